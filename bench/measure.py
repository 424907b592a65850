"""What the benchmarks share: peak RSS of a process, and a cached synthetic dump."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def vm_hwm_mib(pid: int | str = "self") -> float | None:
    """Peak RSS so far of a live process (``VmHWM``), or None once it is gone.

    Unlike ``getrusage(...).ru_maxrss``, which a child inherits from the parent it was forked
    from, VmHWM belongs to the process's own address space, so it is right after an exec.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def ensure_dump(rows: int, dump: Path | None, shape: str = "sample") -> str:
    """``dump`` if given, else an ``rows``-row dump of ``shape`` (make_dump.py) in the temp dir,
    generated once and reused."""
    if dump is not None:
        return str(dump)
    name = f"off-{rows}.parquet" if shape == "sample" else f"off-{rows}-{shape}.parquet"
    path = Path(tempfile.gettempdir()) / "offbatch-bench" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} ...", flush=True)
        # In a process of its own, so the generator's memory is not counted as the caller's.
        subprocess.run([sys.executable, str(Path(__file__).with_name("make_dump.py")), "--rows", str(rows),
                        "--out", str(path), "--shape", shape], check=True, stdout=subprocess.DEVNULL)
    return str(path)
