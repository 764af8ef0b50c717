"""The program keeps freed memory for reuse: real processes, glibc's own account of its heap
(``mallinfo2``) read after a block is allocated and freed."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")

# Allocates and frees a 24 MiB block, then prints how much more free memory the heap keeps
# than before it (what was free already depends on what the process imported). Untuned, a
# block that size is mapped on its own and unmapped when freed: nothing more is kept.
PROBE = """
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
{setup}
before = libc.mallinfo2().fordblks
block = libc.malloc(24 << 20)
ctypes.memset(block, 1, 24 << 20)
libc.free(block)
print(libc.mallinfo2().fordblks - before)
"""

PROGRAM = (  # the program's entry point, its command replaced by the probe
    "from zeekslam import cli\n"
    "def probe():\n"
    "{probe}\n"
    "    raise SystemExit(0)\n"
    "cli.main = probe\n"
    "cli.run()\n"
)


def kept_after_free(setup: str, env: dict[str, str] | None = None) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_tuned_the_freed_block_is_kept_for_reuse():
    assert kept_after_free("from zeekslam.allocator import keep_freed_memory; assert keep_freed_memory()") >= 24 << 20


def test_untuned_the_freed_block_goes_back_to_the_kernel():
    assert kept_after_free("") < 1 << 20


def test_the_program_tunes_it_and_the_environment_can_say_no(monkeypatch):
    probe = "\n".join("    " + line for line in PROBE.format(setup="").strip().splitlines())
    program = PROGRAM.format(probe=probe)
    tuned = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert tuned.returncode == 0, tuned.stderr
    assert int(tuned.stdout) >= 24 << 20
    monkeypatch.setenv("ZEEKSLAM_MALLOC_TUNING", "0")
    untouched = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert untouched.returncode == 0, untouched.stderr
    assert int(untouched.stdout) < 1 << 20
