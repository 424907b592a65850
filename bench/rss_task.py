"""A local task command that runs the real worker and records its own peak RSS.

Runs ``python -m offbatch run-task`` in this process (same code path as the default local task
command), then, however it ends, writes ``{"index", "pid", "exit", "peak_rss_mib", "seconds"}`` to
``$BENCH_RSS_DIR/task-<index>-<pid>.json``. Used by local_job.py as
``LocalBackend(settings, task_command=[python, bench/rss_task.py])``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import time
from pathlib import Path

from measure import vm_hwm_mib

started = time.perf_counter()
code: object = 1
try:
    sys.argv = ["offbatch", "run-task"]
    runpy.run_module("offbatch", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as e:
    code = e.code
finally:
    out = Path(os.environ["BENCH_RSS_DIR"])
    index = os.environ.get("BATCH_TASK_INDEX", "x")
    (out / f"task-{index}-{os.getpid()}.json").write_text(json.dumps({
        "index": index,
        "pid": os.getpid(),
        "exit": code,
        "peak_rss_mib": vm_hwm_mib(),
        "seconds": time.perf_counter() - started,
    }))
sys.exit(code)
