"""Checks of a task's environment before it touches a row: the image's lock, the GPU, its driver.

Each check either returns a short description of what it saw or raises ``EnvironmentProblem``
with one line naming the cause. They import nothing heavy: the GPU is probed through
``nvidia-smi`` (a subprocess) and the CUDA runtime torch was built for is read from torch's
``version.py`` file without importing torch, so a broken image fails in a second, not after
minutes of loading. A failed check is bad input (exit 3): Batch fails the task without retrying.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from offbatch.errors import EngineError

NVIDIA_SMI_TIMEOUT_S = 60.0
# The oldest NVIDIA driver each CUDA major version runs on (NVIDIA's CUDA release notes,
# "minor version compatibility"): a CUDA 13 build (vllm 0.33 / torch 2.14) needs R580.
MIN_DRIVER_FOR_CUDA = {11: 450, 12: 525, 13: 580}


class EnvironmentProblem(EngineError):
    """The task's machine or image cannot run the job; retrying on it cannot help."""

    exit_code = 3


# ---- the image's lock ----------------------------------------------------------------------------

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` pin in a pip/uv lock file."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = _PIN.match(line.strip())
        if m:
            pins[_normalize(m.group(1))] = m.group(2)
    return pins


def installed_distributions() -> dict[str, str]:
    return {_normalize(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
            if d.metadata["Name"]}


def _same_version(installed: str, pinned: str) -> bool:
    # pip's rule: ``==2.14.0`` matches a local build ``2.14.0+cu130``; a pinned local label must match.
    return installed == pinned or ("+" not in pinned and installed.split("+", 1)[0] == pinned)


def check_lock(lock: Path, *, installed: dict[str, str] | None = None) -> str:
    """Every distribution pinned in ``lock`` is installed at its pinned version."""
    if not lock.is_file():
        raise EnvironmentProblem(f"image lock {lock} (OFFBATCH_IMAGE_LOCK) does not exist")
    pins = read_lock(lock)
    if not pins:
        raise EnvironmentProblem(f"image lock {lock} pins no distribution (expected name==version lines)")
    installed = installed_distributions() if installed is None else installed
    wrong = []
    for name, pinned in sorted(pins.items()):
        have = installed.get(name)
        if have is None:
            wrong.append(f"{name} missing (lock: {pinned})")
        elif not _same_version(have, pinned):
            wrong.append(f"{name} {have} (lock: {pinned})")
    if wrong:
        shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
        raise EnvironmentProblem(
            f"image built from a wrong lock: {len(wrong)} of {len(pins)} pinned distributions differ "
            f"from {lock}: {shown}"
        )
    return f"{len(pins)} pinned distributions match {lock}"


# ---- the GPU and its driver ----------------------------------------------------------------------

@dataclass(frozen=True)
class Gpu:
    name: str
    driver: str

    @property
    def driver_major(self) -> int:
        return int(self.driver.split(".", 1)[0])


def probe_gpus(*, path: str | None = None) -> list[Gpu]:
    """The GPUs ``nvidia-smi`` lists (``path``: the PATH to search, default the process's)."""
    exe = shutil.which("nvidia-smi", path=path)
    if exe is None:
        raise EnvironmentProblem(
            "no GPU visible: nvidia-smi is not on PATH (no NVIDIA driver on this VM: "
            "does the job config attach an accelerator with install_gpu_drivers: true?)"
        )
    try:
        done = subprocess.run(
            [exe, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EnvironmentProblem(f"no GPU visible: nvidia-smi did not run: {e}") from None
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()
        raise EnvironmentProblem(
            f"no GPU visible: nvidia-smi exited {done.returncode}: {said[0] if said else 'no output'}"
        )
    gpus = []
    for line in done.stdout.strip().splitlines():
        name, _, driver = (part.strip() for part in line.rpartition(","))
        if not re.match(r"^\d+(\.\d+)*$", driver):
            raise EnvironmentProblem(f"no GPU visible: cannot read nvidia-smi's line {line!r}")
        gpus.append(Gpu(name=name, driver=driver))
    if not gpus:
        raise EnvironmentProblem("no GPU visible: nvidia-smi lists no GPU")
    return gpus


def torch_cuda_version() -> str | None:
    """The CUDA runtime the installed torch was built for (``"13.0"``), read without importing torch.

    None for a CPU build. Raises EnvironmentProblem when torch is not installed.
    """
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        raise EnvironmentProblem("torch is not installed in this image (the vllm engine needs it)")
    text = (Path(spec.origin).parent / "version.py").read_text()
    m = re.search(r"^cuda\s*(?::[^=\n]*)?=\s*(?:'([^']*)'|\"([^\"]*)\"|None)", text, re.MULTILINE)
    if m is None:
        raise EnvironmentProblem(f"cannot read the CUDA version from {Path(spec.origin).parent / 'version.py'}")
    return m.group(1) or m.group(2) or None


def check_driver(gpus: list[Gpu], *, cuda: str | None) -> str:
    """The driver can run the CUDA runtime torch was built for."""
    if cuda is None:
        raise EnvironmentProblem("torch in this image is a CPU build: the image was built from the wrong wheels")
    major = int(cuda.split(".", 1)[0])
    needed = MIN_DRIVER_FOR_CUDA.get(major)
    gpu = gpus[0]
    if needed is not None and gpu.driver_major < needed:
        raise EnvironmentProblem(
            f"NVIDIA driver {gpu.driver} is too old for CUDA {cuda} (torch's runtime needs driver >= {needed}): "
            f"ask Batch for a newer driver (accelerator driver_version) or build the image for this driver"
        )
    return f"{len(gpus)} x {gpu.name}, driver {gpu.driver} runs CUDA {cuda}"


def check_torch_cuda() -> str:
    """torch itself sees a GPU (imports torch: run it after the cheap checks)."""
    import torch

    if not torch.cuda.is_available():
        raise EnvironmentProblem(
            f"no GPU visible to torch: torch.cuda.is_available() is False (torch {torch.__version__}, "
            f"CUDA {torch.version.cuda})"
        )
    major, minor = torch.cuda.get_device_capability()
    return f"torch {torch.__version__} sees {torch.cuda.get_device_name(0)} (compute capability {major}.{minor})"
