#!/usr/bin/env bash
# The install steps of the ingredients-spellcheck worker image, one step per argument.
#
# Run by the Dockerfile (one RUN per step, so each step is its own layer) and by the no-Docker
# check (scripts/image-check.sh, `make image-check`), in the same order: what the check proves
# is what the Dockerfile builds. Run as root inside the image being built.
#
#   install.sh system     Debian packages (python3, gcc, Python.h), the venv, the worker user
#   install.sh cuda-libs  the CUDA runtime wheels (nvidia-*, cuda-*) from the lock: one layer
#   install.sh python     everything else in the lock (torch, vLLM, triton, ...): another layer
#   install.sh offbatch   offbatch itself from /opt/offbatch/src-tree, without dependencies
#   install.sh weights    (weights stage) MODEL@MODEL_REVISION into $HF_HOME, split for layers
#
# Pip caches only when PIP_CACHE_DIR is set (the check sets it; image builds keep no cache).
set -euo pipefail

VENV=/opt/venv
OFFBATCH_DIR=/opt/offbatch
LOCK="$OFFBATCH_DIR/requirements.lock"
WORKER_USER=offbatch
# Above every distribution's range of regular users (Ubuntu images already give 1000 to
# `ubuntu`): the Dockerfile's USER and the check use this number.
WORKER_UID=10001
# Weight files are grouped into at most WEIGHT_LAYERS folders of at most WEIGHT_LAYER_BYTES each;
# the Dockerfile copies each folder into its own layer (registries such as GHCR refuse a layer
# over 10 GB, and a registry pull extracts each layer in one thread).
WEIGHT_LAYERS=4
WEIGHT_LAYER_BYTES=6000000000
WEIGHTS_STAGE=/stage

die() { echo "install.sh: error: $*" >&2; exit 2; }

pip_install() {
    local cache=(--no-cache-dir)
    if [[ -n "${PIP_CACHE_DIR:-}" ]]; then cache=(); fi
    "$VENV/bin/pip" install --disable-pip-version-check --no-input "${cache[@]}" "$@"
}

step_system() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # gcc + libc6-dev + python3-dev: triton compiles its CUDA driver shim at start-up and vLLM
    # compiles its model graph (torch.compile); both need a C compiler and Python.h.
    apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev gcc libc6-dev ca-certificates
    rm -rf /var/lib/apt/lists/*
    python3 -m venv "$VENV"
    if getent passwd "$WORKER_UID" >/dev/null; then
        die "UID $WORKER_UID is already taken in the base image by $(getent passwd "$WORKER_UID" | cut -d: -f1)"
    fi
    useradd --create-home --uid "$WORKER_UID" --user-group --shell /bin/bash "$WORKER_USER"
    mkdir -p "$OFFBATCH_DIR"
}

check_lock() {
    [[ -f "$LOCK" ]] || die "no lock file at $LOCK (copy containers/ingredients-spellcheck/requirements.lock there)"
}

step_cuda_libs() {
    check_lock
    local cuda_lock
    cuda_lock="$(mktemp)"
    grep -E '^(nvidia-|cuda-)[A-Za-z0-9._-]*==' "$LOCK" >"$cuda_lock" || die "no nvidia-*/cuda-* pins in $LOCK"
    pip_install --no-deps -r "$cuda_lock"
    rm -f "$cuda_lock"
}

step_python() {
    check_lock
    # --no-deps: exactly the lock, nothing resolved at build time; `pip check` then proves the
    # lock is complete for this platform.
    pip_install --no-deps -r "$LOCK"
    "$VENV/bin/pip" check
}

step_offbatch() {
    [[ -f "$OFFBATCH_DIR/src-tree/pyproject.toml" ]] || die "no offbatch source at $OFFBATCH_DIR/src-tree"
    pip_install --no-deps "$OFFBATCH_DIR/src-tree"
    rm -rf "$OFFBATCH_DIR/src-tree"
    "$VENV/bin/offbatch" --help >/dev/null
}

step_weights() {
    : "${MODEL:?set MODEL (a Hugging Face repo id)}"
    : "${MODEL_REVISION:?set MODEL_REVISION (the model commit sha)}"
    : "${HF_HOME:?set HF_HOME}"
    # A branch or tag would bake whatever it points to today, and offline it only resolves
    # through refs/<name>, which snapshot_download(revision=<sha>) never writes.
    [[ "$MODEL_REVISION" =~ ^[0-9a-f]{40}$ ]] \
        || die "MODEL_REVISION must be a full 40-character commit sha, not '$MODEL_REVISION'"
    check_lock
    # huggingface_hub at the lock's version (and its dependencies at theirs).
    pip_install -c "$LOCK" huggingface-hub
    "$VENV/bin/python" - "$MODEL" "$MODEL_REVISION" "$HF_HOME" "$WEIGHTS_STAGE" \
        "$WEIGHT_LAYERS" "$WEIGHT_LAYER_BYTES" <<'PY'
"""Download MODEL@sha (a no-op when the cache already holds it), check that it resolves
offline, then spread the cache's files over the layer folders <stage>/weights-<n>/."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

model, sha, hf_home, stage, layers, layer_bytes = sys.argv[1:7]
layers, layer_bytes = int(layers), int(layer_bytes)
from huggingface_hub import snapshot_download  # noqa: E402

path = snapshot_download(model, revision=sha)
env = {**os.environ, "HF_HUB_OFFLINE": "1"}
code = "import sys; from huggingface_hub import snapshot_download as s; print(s(sys.argv[1], revision=sys.argv[2]))"
offline = subprocess.run([sys.executable, "-c", code, model, sha], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
if Path(offline).resolve() != Path(path).resolve() or not Path(offline).name == sha:
    sys.exit(f"install.sh: error: {model}@{sha} does not resolve offline (got {offline})")

root = Path(hf_home)
files = sorted((p for p in root.rglob("*") if p.is_file() and not p.is_symlink()),
               key=lambda p: p.stat().st_size, reverse=True)
links = [p for p in root.rglob("*") if p.is_symlink()]
sizes = [0] * layers
groups: list[list[Path]] = [[] for _ in range(layers)]
for f in files:  # largest first, each into the emptiest layer
    n = sizes.index(min(sizes))
    if sizes[n] + f.stat().st_size > layer_bytes:
        sys.exit(f"install.sh: error: the weights do not fit {layers} layers of {layer_bytes} bytes")
    sizes[n] += f.stat().st_size
    groups[n].append(f)
groups[0].extend(links)  # snapshot symlinks (and refs) are tiny: the first layer carries them
for n, group in enumerate(groups, start=1):
    dest_root = Path(stage) / f"weights-{n}"
    dest_root.mkdir(parents=True, exist_ok=True)
    for f in group:
        dest = dest_root / f.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, dest) if not f.is_symlink() else os.symlink(os.readlink(f), dest)
    print(f"weights layer {n}: {len(group)} files, {sizes[n - 1] / 1e9:.2f} GB")
shutil.rmtree(root)
PY
}

[[ $# -ge 1 ]] || die "usage: install.sh system|cuda-libs|python|offbatch|weights ..."
for step in "$@"; do
    case "$step" in
        system) step_system ;;
        cuda-libs) step_cuda_libs ;;
        python) step_python ;;
        offbatch) step_offbatch ;;
        weights) step_weights ;;
        *) die "unknown step '$step' (system, cuda-libs, python, offbatch, weights)" ;;
    esac
done
