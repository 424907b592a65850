"""Small jobs side by side with a peer: offbatch vs Metaflow's local ``foreach`` fan-out.

    python bench/peer_metaflow.py [--runs 5] [--tasks 8]

offbatch: ``offbatch launch ingredients-spellcheck --wait --limit 8`` with a local config of 8
tasks, all in parallel, in a fresh ``OFFBATCH_HOME`` each run: CLI start-up, extraction from the
bundled sample, the supervisor, 8 task processes running the CPU engine on one product each, and
the import of their predictions into SQLite — wall time of the whole command.

Metaflow (the peer, installed by this script in its own virtual environment under
``bench/.venvs/``, so it never touches offbatch's): ``python fanout.py run`` of a flow whose
``start`` step fans out over 8 items to a no-op ``work`` step, joined, then ``end`` — its local
runtime starts a process per step task, like offbatch's local backend starts one per task.

The two alternate (offbatch, Metaflow, offbatch, ...) so a load change on the machine hits both;
the figure is the ratio of the medians. Target: offbatch <= 0.5x Metaflow's wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METAFLOW_VERSION = "2.19.39"
TARGET_RATIO = 0.5
HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / f"metaflow-{METAFLOW_VERSION}"

FLOW = '''
from metaflow import FlowSpec, step


class FanOut(FlowSpec):
    @step
    def start(self):
        self.items = list(range({tasks}))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FanOut()
'''

CONFIG = """\
location: local
cpu_milli: 1000
memory_mib: 1024
max_retry_count: 0
max_run_duration: 10m
task_count: {tasks}
parallelism: {tasks}
machine_type: local
budget_usd: 1
engine: cpu
chunk_size: 256
env: {{}}
"""


def metaflow_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"installing metaflow {METAFLOW_VERSION} into {VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"metaflow=={METAFLOW_VERSION}"], check=True,
                       stderr=subprocess.DEVNULL)
    return python


def timed(command: list[str], *, cwd: Path, env: dict[str, str], expect: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0 or expect not in output:
        raise SystemExit(f"error: {' '.join(command[:3])} failed (rc {done.returncode}):\n{output[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args()

    peer = metaflow_python()
    # Other work on the machine slows both sides, not equally: say how loaded it was.
    print("load average (1, 5, 15 min) at the start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    offbatch = Path(sys.executable).with_name("offbatch")
    with tempfile.TemporaryDirectory(prefix="offbatch-peer-") as tmp:
        root = Path(tmp)
        (root / "fanout.py").write_text(FLOW.format(tasks=args.tasks))
        config = root / "local.yaml"
        config.write_text(CONFIG.format(tasks=args.tasks))
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFBATCH_", "METAFLOW_"))}
        ours, theirs = [], []
        for run in range(args.runs):
            home = root / f"home-{run}"
            env = {**base_env, "OFFBATCH_HOME": str(home)}
            ours.append(timed([str(offbatch), "launch", "ingredients-spellcheck", "--wait", "--yes",
                               "--limit", str(args.tasks), "--config", str(config)],
                              cwd=root, env=env, expect="imported"))
            mf_env = {**base_env, "USERNAME": "bench", "METAFLOW_HOME": str(root / f"mf-{run}")}
            theirs.append(timed([str(peer), "fanout.py", "--quiet", "--no-pylint", "run"],
                                cwd=root, env=mf_env, expect="Done"))
            print(f"run {run + 1}: offbatch {ours[-1]:.2f} s, metaflow {theirs[-1]:.2f} s", flush=True)
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    a, b = statistics.median(ours), statistics.median(theirs)
    ratio = a / b
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"{args.tasks} products in {args.tasks} tasks, launch --wait to imported: offbatch median {a:.2f} s "
          f"({min(ours):.2f}-{max(ours):.2f}); peer Metaflow {METAFLOW_VERSION} local foreach over {args.tasks} "
          f"no-op tasks: median {b:.2f} s ({min(theirs):.2f}-{max(theirs):.2f})")
    print(f"ratio {ratio:.2f}x (target <= {TARGET_RATIO}x): {verdict}")


if __name__ == "__main__":
    main()
