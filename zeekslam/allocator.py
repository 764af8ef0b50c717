"""The ``zeekslam`` process keeps the memory it frees, for the next chunk to reuse.

zeekslam reads a log a chunk at a time, and each chunk's arrays are about the size of the
last one's.  glibc's allocator gives freed memory back to the kernel eagerly: blocks over
its mmap threshold (128 KiB at first) are unmapped when freed, and the top of the heap is
trimmed past 128 KiB free.  The next chunk then takes fresh pages, and the kernel faults
each one in and zeroes it.  For ``report`` on the benchmark's 2M rows that was ~100,000
page faults and ~0.45 s of system time; with the settings below, ~55,000 and ~0.3 s, and
the command ~7% faster (``label`` the same).  Peak memory does not change: what is kept is
what was already in use at the peak.

Only the program does this (``zeekslam.cli.run``), not a caller of the library, and only
where the C library is glibc (elsewhere ``mallopt`` is absent or ignores these settings).
``ZEEKSLAM_MALLOC_TUNING=0`` in the environment leaves the allocator as it is.
"""

from __future__ import annotations

import ctypes
import os
import platform

# mallopt(3) parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from the heap, so a freed one is reused (32 MiB is the
#: largest value glibc accepts on 64-bit; it also stops the threshold from moving).
MMAP_THRESHOLD = 32 << 20
#: Free memory at the top of a heap is given back only past this (a bound no run reaches).
TRIM_THRESHOLD = 1 << 30
#: A heap grows by this much more than asked, in fewer steps (address space, not memory:
#: a page is only taken when first written).
TOP_PAD = 64 << 20


def keep_freed_memory() -> bool:
    """Tune glibc's allocator to keep freed memory for reuse; whether it was done."""
    if os.environ.get("ZEEKSLAM_MALLOC_TUNING") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all([mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD), mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                mallopt(M_TOP_PAD, TOP_PAD)])
