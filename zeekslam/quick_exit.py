"""The ``zeekslam`` process ends at once when its command is done.

Once a command has written its output, what is left is the interpreter's teardown:
every object freed one by one, the modules cleared, a last garbage collection.  For
``report`` at 2M rows that was ~0.07 s (~10^5 verdicts and the arrays behind them),
spent after the answer was out.  The console entry point skips it with ``os._exit``
after flushing stdout and stderr, when nothing needs a clean exit: the command
succeeded, no other thread runs, no Dask client or cluster is left to shut down, and no
profiler, tracer or coverage tool waits to write what it found (``ZEEKSLAM_QUICK_EXIT=0``
in the environment turns it off, for a tool this cannot see).

A caller that runs a command in-process (tests, ``CliRunner``, a script calling
``zeekslam.cli.main``) is not affected: nothing here happens unless :func:`begin` was
called, as only ``zeekslam.cli.run`` (the program) does.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import NoReturn

_kept: list[object] = []
_active = False


def begin() -> None:
    """This process ends when the command does: :func:`keep` holds, :func:`end` may skip the teardown."""
    global _active
    _active = True


def keep(*objects: object) -> None:
    """Hold ``objects`` to the end of the process, so that they are not freed one by one when
    the command returns (in the console entry point only; elsewhere this does nothing)."""
    if _active:
        _kept.extend(objects)


def end(code: int | str | None) -> NoReturn:
    """Leave as ``sys.exit(code)`` would; on success, at once when nothing needs a clean exit."""
    if _active and code in (0, None) and _nothing_to_tear_down():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a reader gone: the normal way out deals with it, as it always did
            sys.exit(code)
        os._exit(0)
    sys.exit(code)


def _nothing_to_tear_down() -> bool:
    # a thread still running is stopped at exit (ahead.stop_all); Dask's client, cluster and
    # worker processes are closed by its own exit hooks; a profiler, tracer or coverage tool
    # writes what it found at exit; ZEEKSLAM_QUICK_EXIT=0 asks for the normal way out
    return (threading.active_count() == 1 and not ({"dask", "distributed"} & sys.modules.keys())
            and not _observed() and os.environ.get("ZEEKSLAM_QUICK_EXIT") != "0")


def _observed() -> bool:
    """Whether a profiler, tracer or coverage tool watches this process."""
    if sys.gettrace() is not None or sys.getprofile() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: coverage's sys.monitoring core
    return monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6))
