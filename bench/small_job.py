"""A small job, this tree against another commit: `launch --wait` of 8 products in 8 tasks.

    python bench/small_job.py --against a03ea6d [--runs 10]

Each run is ``python -m offbatch launch ingredients-spellcheck --wait --limit 8`` with the local
config of bench/peer_metaflow.py (8 tasks, all in parallel) in a fresh ``OFFBATCH_HOME``, to
imported predictions; the other commit's ``src/`` is taken with ``git archive`` and run by the
same interpreter and packages (``PYTHONPATH``, which the supervisor and its tasks inherit). The
two alternate, taking turns going first, so a load change on the machine hits both. Reported:
the medians and ranges of the wall time, and of the launching process's own CPU time (user +
system, from ``getrusage``; the supervisor and tasks are not its children once it exits), which
moves less with other work on the machine than the wall time does.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peer_metaflow import CONFIG  # the peer bench's job, exactly


def checkout(ref: str, into: Path) -> Path:
    """``src/`` of ``ref``, extracted under ``into``."""
    archive = subprocess.run(["git", "archive", ref, "src"], cwd=HERE.parent, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def launch(src: Path, *, config: Path, home: Path) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFBATCH_")}
    env.update(OFFBATCH_HOME=str(home), PYTHONPATH=str(src))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "offbatch", "launch", "ingredients-spellcheck", "--wait", "--yes",
                           "--limit", "8", "--config", str(config)], env=env, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "imported: 8 predictions" not in done.stdout:
        raise SystemExit(f"error: launch from {src} failed (rc {done.returncode}):\n{done.stderr[-2000:]}")
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="the commit to compare with (e.g. the branch's parent)")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print("load average (1, 5, 15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    with tempfile.TemporaryDirectory(prefix="offbatch-small-") as tmp:
        root = Path(tmp)
        config = root / "local.yaml"
        config.write_text(CONFIG.format(tasks=8))
        trees = {args.against: checkout(args.against, root / "other"), "this tree": HERE.parent / "src"}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        for run in range(args.runs):
            for name in (list(trees) if run % 2 == 0 else list(reversed(trees))):
                home = root / f"home-{run}-{'this' if name == 'this tree' else 'other'}"
                results[name].append(launch(trees[name], config=config, home=home))
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for name, values in results.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(f"{name}: wall median {statistics.median(walls):.2f} s ({min(walls):.2f}-{max(walls):.2f}), "
              f"launcher CPU median {statistics.median(cpus):.3f} s ({min(cpus):.3f}-{max(cpus):.3f})")


if __name__ == "__main__":
    main()
