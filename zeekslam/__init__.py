"""zeekslam: label TCP connections in Zeek logs — who slammed the door, and why.

The library is the product; the ``zeekslam`` command is a thin layer on top::

    import zeekslam
    for frame in zeekslam.label_logs(["conn.log"]):
        print(frame[["id.orig_h", "id.resp_p", "slam.label", "slam.reason"]])
"""

from .history import HistoryFacts, decode, describe
from .label import LABEL_FIELDS, LabeledChunk, LabelOptions, decide, label_chunks, label_frame, label_logs
from .read import InputError, MalformedLine, NotAZeekLog, ZeekslamError, find_inputs, read_log
from .replies import classify as classify_reply
from .write import write

__all__ = [
    "LABEL_FIELDS", "HistoryFacts", "InputError", "LabelOptions", "LabeledChunk", "MalformedLine",
    "NotAZeekLog", "ZeekslamError", "classify_reply", "decide", "decode", "describe", "find_inputs",
    "label_chunks", "label_frame", "label_logs", "read_log", "write",
]
