"""Start time of ``offbatch --help``: median wall time of ``python -m offbatch --help`` over N runs.

    PYTHONPATH=src python bench/cli_startup.py          # 20 runs each

Floor, measured in the same run: ``python -c pass`` (the interpreter's own start-up). The two
alternate so that both see the same machine state. Target: median <= 0.3 s (commands are
imported lazily, so ``--help`` loads click and offbatch's CLI module only). With ``--imports``
it also lists the slowest modules ``--help`` imports (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 0.3
HELP = [sys.executable, "-m", "offbatch", "--help"]
FLOOR = [sys.executable, "-c", "pass"]


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def slowest_imports(count: int) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the ``count`` slowest top-level imports of ``--help``."""
    result = subprocess.run([sys.executable, "-X", "importtime", *HELP[1:]], check=True,
                            capture_output=True, text=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not name[1:].startswith(" "):  # top level only (nested imports are indented further)
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--imports", action="store_true", help="also list the slowest imports")
    args = parser.parse_args()
    for command in (HELP, FLOOR):  # warm the file cache
        wall(command)
    help_times, floor_times = [], []
    for _ in range(args.runs):
        help_times.append(wall(HELP))
        floor_times.append(wall(FLOOR))
    median, floor = statistics.median(help_times), statistics.median(floor_times)
    print(f"python -m offbatch --help: median {median * 1000:.0f} ms over {args.runs} runs "
          f"(min {min(help_times) * 1000:.0f}, max {max(help_times) * 1000:.0f})")
    print(f"floor: python -c pass: median {floor * 1000:.0f} ms; ratio {median / floor:.1f}x; "
          f"offbatch's own share {(median - floor) * 1000:.0f} ms")
    print(f"target <= {TARGET_SECONDS * 1000:.0f} ms: {'met' if median <= TARGET_SECONDS else 'NOT met'}")
    if args.imports:
        for micros, name in slowest_imports(8):
            print(f"  import {name}: {micros / 1000:.1f} ms")


if __name__ == "__main__":
    main()
