"""The worker image's recipe: one install script for the Dockerfile and the no-Docker check, a
lock that pins what pyproject asks for, a revision that must be a commit sha.

Building the image itself is `make image-check` (minutes, several GB): not a unit test.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = ROOT / "containers" / "ingredients-spellcheck"
DOCKERFILE = (CONTEXT / "Dockerfile").read_text()
INSTALL = CONTEXT / "install.sh"
CHECK = (ROOT / "scripts" / "image-check.sh").read_text()
IMAGES_MK = (ROOT / "containers" / "images.mk").read_text()
LOCK = CONTEXT / "requirements.lock"


def install_setting(name: str) -> str:
    return re.search(rf"^{name}=(\S+)$", INSTALL.read_text(), re.MULTILINE).group(1)


def lock_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[0-9A-Za-z.+!_-]+", version), f"not an exact pin: {line!r}"
            pins[canonicalize_name(name)] = version
    return pins


def test_dockerfile_and_check_run_the_same_install_steps_in_the_same_order() -> None:
    docker_steps = re.findall(r"^RUN .*/opt/offbatch/install\.sh (\w[\w-]*)", DOCKERFILE, re.MULTILINE)
    check_steps = re.findall(r'^install_step "\$\w+" (\w[\w-]*)', CHECK, re.MULTILINE)
    assert set(docker_steps) == set(check_steps) == {"system", "cuda-libs", "python", "weights", "offbatch"}
    # The weights stage is built apart (in parallel by Docker); the image's own steps keep their order.
    assert [s for s in docker_steps if s != "weights"] == [s for s in check_steps if s != "weights"]


def test_dockerfile_environment_is_set_by_the_check_too() -> None:
    names = set(re.findall(r"^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]+)=\S+(?: \\)?$", DOCKERFILE, re.MULTILINE))
    assert {"OFFBATCH_VLLM_MODEL", "OFFBATCH_VLLM_REVISION", "OFFBATCH_IMAGE_LOCK", "HF_HOME", "HF_HUB_OFFLINE"} <= names
    for name in names:
        assert f"--env {name}=" in CHECK, name


def test_worker_uid_and_weight_layers_agree_everywhere() -> None:
    uid = install_setting("WORKER_UID")
    assert int(uid) != 0 and int(uid) > 1000  # 1000 is `ubuntu` in Ubuntu-based images
    assert f"\nUSER {uid}\n" in DOCKERFILE
    assert "WORKER_UID=" + uid in CHECK
    layers = int(install_setting("WEIGHT_LAYERS"))
    assert [int(n) for n in re.findall(r"COPY --from=weights /stage/weights-(\d+)/", DOCKERFILE)] == list(
        range(1, layers + 1)
    )
    assert int(install_setting("WEIGHT_LAYER_BYTES")) < 10 * 1000**3


def test_image_lock_pins_every_dependency_of_pyproject_with_gcp_and_vllm() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*pyproject["dependencies"], *pyproject["optional-dependencies"]["gcp"],
              *pyproject["optional-dependencies"]["vllm"]]
    text = LOCK.read_text()
    pins = lock_pins(text)
    for spec in wanted:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is missing from {LOCK.name}: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} does not satisfy {req}"
    for name in ("vllm", "torch", "triton", "huggingface-hub", "nvidia-cuda-runtime"):
        assert name in pins, name


def test_image_lock_was_made_for_the_image_python_and_platform() -> None:
    header = LOCK.read_text().splitlines()[1]
    image_python = re.search(r"^IMAGE_PYTHON := (\S+)$", IMAGES_MK, re.MULTILINE).group(1)
    assert f"--python-version {image_python}" in header
    assert "--python-platform x86_64-manylinux_2_28" in header
    assert "--extra gcp --extra vllm" in header
    # Debian 12 (the base) ships Python 3.11.
    assert image_python == "3.11" and "ARG BASE_IMAGE=debian:bookworm-slim" in DOCKERFILE


def run_install(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], **env}, check=False)


@pytest.mark.parametrize("revision", ["main", "v1.0", "a" * 39, "A" * 40])
def test_install_refuses_a_model_revision_that_is_not_a_commit_sha(tmp_path, revision) -> None:
    result = run_install("weights", MODEL="org/model", MODEL_REVISION=revision, HF_HOME=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"install.sh: error: MODEL_REVISION must be a full 40-character commit sha, not '{revision}'"
    )
    assert not any(tmp_path.iterdir())


def test_install_names_an_unknown_step() -> None:
    result = run_install("everything")
    assert result.returncode == 2
    assert "unknown step 'everything'" in result.stderr
