"""How much a new file's pages cost on this machine, by how long ago memory was freed.

    python benchmarks/fresh_pages.py [--mb 408] [--dir benchmarks/out]

Writes a file of --mb MB (what `zeekslam label` writes for the benchmark's 2M rows)
after deleting the last one and waiting 0, 1, 3 and 6 seconds, and prints the system
CPU time of each write.  On a VM whose hypervisor takes back the memory a guest frees
(virtio-balloon free page reporting), pages freed a few seconds before have to be
given back to the guest when written again, and the same write costs several times
more.  Every command the benchmark times writes or allocates such pages; this shows
how much of a run's `sys` column can be the machine's rather than the command's.
"""

from __future__ import annotations

import argparse
import os
import time


def timed_write(path: str, total: int, block: bytes) -> tuple[float, float]:
    """Wall and system CPU seconds to write ``total`` bytes to a new file at ``path``."""
    start, before = time.perf_counter(), os.times()
    with open(path, "wb") as f:
        written = 0
        while written < total:
            f.write(block)
            written += len(block)
    return time.perf_counter() - start, os.times().system - before.system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=408, help="size of each file (default 408 MB)")
    parser.add_argument("--dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"),
                        help="where the file is written (default benchmarks/out)")
    args = parser.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, "fresh-pages.tmp")
    block = os.urandom(1 << 20) * 3  # 3 MB writes, as zeekslam's chunks
    total = args.mb << 20
    try:
        timed_write(path, total, block)  # the first file: its pages are the ones freed below
        for pause in (0, 1, 3, 6, 0):
            os.remove(path)
            os.sync()
            time.sleep(pause)
            wall, system = timed_write(path, total, block)
            print(f"{args.mb} MB written {pause} s after the last file was deleted: "
                  f"{wall:.2f} s, system CPU {system:.2f} s")
    finally:
        if os.path.exists(path):
            os.remove(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
