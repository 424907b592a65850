#!/usr/bin/env bash
# Build the ingredients-spellcheck worker image with no Docker daemon, check it, write it as an
# OCI archive (`make image-check`; run as root).
#
# The image is built as the Dockerfile builds it — the same install.sh steps in the same order,
# one committed layer per step — but with buildah (chroot isolation) on a Debian
# base made by mmdebstrap: the same release as the Dockerfile's debian:bookworm-slim, since no
# container registry is reachable here. Weights cannot be downloaded here either: a tiny model
# folder laid out as snapshot_download leaves it (blobs + snapshots/<sha>, no refs/main) stands
# in for them, so the weights step runs for real but offline.
#
# Then, inside the image as its worker user: not root, a writable home; gcc compiles against
# Python.h; vllm, triton, torch and offbatch import; every installed package is the lock's
# version; the baked revision resolves with HF_HUB_OFFLINE=1; `offbatch run-task` with the CPU
# engine processes an input shard written by `offbatch launch` and writes its output part.
#
# Environment: IMAGE_CHECK_DIR (work folder, default build/image-check), IMAGE_CHECK_CACHE
# (Debian base + wheels kept between runs, default $IMAGE_CHECK_DIR/cache; delete it for a cold
# run), OFFBATCH_PYTHON (a Python with offbatch, for the launch; default .venv/bin/python),
# IMAGE_CHECK_STORAGE_DRIVER (buildah's: overlay by default, vfs where overlay cannot mount),
# IMAGE_CHECK_KEEP=1 keeps buildah's storage (several GB) after the run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mkdir -p "${IMAGE_CHECK_DIR:-build/image-check}"
DIR=$(realpath "${IMAGE_CHECK_DIR:-build/image-check}")
CACHE=$(realpath -m "${IMAGE_CHECK_CACHE:-$DIR/cache}")
PY=${OFFBATCH_PYTHON:-$ROOT/.venv/bin/python}
SUITE=bookworm  # the Debian release of the Dockerfile's BASE_IMAGE (debian:bookworm-slim)
CONTEXT=containers/ingredients-spellcheck
ARCHIVE=$DIR/ingredients-spellcheck.tar
WORKER_UID=10001
MODEL=offbatch-check/tiny-mistral
REVISION=$(printf 'offbatch image-check model' | sha1sum | cut -c1-40)
START=$SECONDS

die() { echo "image-check: error: $*" >&2; exit 1; }
step() { printf '\n== [%4ds] %s\n' $((SECONDS - START)) "$*"; }
ok() { echo "   ok: $*"; }

[[ $EUID -eq 0 ]] || die "run as root (mmdebstrap and buildah's chroot isolation need it)"
[[ -x $PY ]] || die "no Python with offbatch at $PY (run 'make .venv/.core' or set OFFBATCH_PYTHON)"
missing=()
for tool in mmdebstrap buildah skopeo umoci crun; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
    step "installing ${missing[*]} (Debian packages)"
    apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$CACHE/wheels" "$DIR"
STORAGE=$DIR/storage
# overlay keeps each committed layer as a diff; vfs (which works everywhere) keeps a full copy of
# the filesystem per layer: ~60 GB for this image, against ~20 GB with overlay.
DRIVER=${IMAGE_CHECK_STORAGE_DRIVER:-overlay}
bah() { buildah --root "$STORAGE" --runroot "$DIR/run" --storage-driver "$DRIVER" "$@"; }
# run_in CONTAINER [buildah run options] -- COMMAND...
run_in() {
    local c=$1 opts=()
    shift
    while [[ $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    bah run --isolation chroot "${opts[@]}" "$c" -- "$@"
}
cleanup() {
    bah rm --all >/dev/null 2>&1 || true
    if [[ ${IMAGE_CHECK_KEEP:-0} != 1 ]]; then
        bah rmi --all --force >/dev/null 2>&1 || true
        rm -rf "$STORAGE" "$DIR/run"
    fi
}
trap cleanup EXIT
# install_step CONTAINER STEP [buildah run options]: one install.sh step, its output in $DIR/STEP.log.
install_step() {
    local c=$1 s=$2
    shift 2
    run_in "$c" "$@" -- /opt/offbatch/install.sh "$s" >"$DIR/$s.log" 2>&1 \
        || { tail -20 "$DIR/$s.log"; die "install.sh $s failed (log: $DIR/$s.log)"; }
}
cleanup

# A new working container from the image just committed: one layer per commit, like a Dockerfile.
layer() { bah commit --quiet "$1" "$2" >/dev/null && bah rm "$1" >/dev/null && bah from --quiet --name "$1" "$2" >/dev/null; }

step "base: Debian $SUITE minbase (mmdebstrap), cached as $CACHE/base-$SUITE.tar"
BASE=$CACHE/base-$SUITE.tar
if [[ ! -f $BASE ]]; then
    mmdebstrap --quiet --variant=minbase --mode=root "$SUITE" "$DIR/rootfs.tar"
    c=$(bah from --quiet scratch)
    bah add --quiet "$c" "$DIR/rootfs.tar" /
    bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$c"
    bah commit --quiet "$c" "oci-archive:$BASE.partial" >/dev/null
    mv "$BASE.partial" "$BASE"
    bah rm "$c" >/dev/null
    rm -f "$DIR/rootfs.tar"
fi
ok "$(du -h "$BASE" | cut -f1) base archive"

step "system: install.sh system (as the Dockerfile's system stage)"
c=$(bah from --quiet --name offbatch-check "oci-archive:$BASE")
bah config --env VIRTUAL_ENV=/opt/venv --env PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 --env HF_HOME=/opt/huggingface "$c"
bah copy --quiet "$c" "$CONTEXT/install.sh" /opt/offbatch/install.sh
install_step "$c" system
bah copy --quiet "$c" "$CONTEXT/requirements.lock" /opt/offbatch/requirements.lock
layer "$c" offbatch-check-system

# pip inside the image trusts this machine's CA bundle too (an egress proxy may re-sign TLS).
HOST_CA=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro --env PIP_CERT=/etc/ssl/host-ca.crt)
step "wheels: the lock's wheels from PyPI into $CACHE/wheels (only those not there yet)"
# A stamp names the lock whose wheels are all there: a re-run with the same lock asks PyPI nothing.
STAMP=$CACHE/wheels/.complete-for-lock
lock_sum=$(sha256sum "$CONTEXT/requirements.lock" | cut -d' ' -f1)
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$lock_sum" ]]; then
    run_in "$c" "${HOST_CA[@]}" -v "$CACHE/wheels:/cache/wheels" -- /opt/venv/bin/pip download --disable-pip-version-check \
        --quiet --no-deps -r /opt/offbatch/requirements.lock -d /cache/wheels
    echo "$lock_sum" >"$STAMP"
fi
ok "$(find "$CACHE/wheels" -name '*.whl' | wc -l) wheels, $(du -sh "$CACHE/wheels" | cut -f1)"

# Installing from the wheel folder alone (no index): the image holds exactly what was fetched.
WHEELS=(-v "$CACHE/wheels:/cache/wheels" --env PIP_FIND_LINKS=/cache/wheels --env PIP_NO_INDEX=1)
step "cuda-libs: install.sh cuda-libs"
install_step "$c" cuda-libs "${WHEELS[@]}"
layer "$c" offbatch-check-cuda-libs
step "python: install.sh python"
install_step "$c" python "${WHEELS[@]}"
layer "$c" offbatch-check-python

step "weights: install.sh weights (stage of its own) on a local model folder, offline"
SEED=$DIR/model-seed
rm -rf "$SEED" && "$PY" - "$SEED" "$MODEL" "$REVISION" <<'PY'
"""A model cache as snapshot_download(repo, revision=<sha>) leaves it: blobs named by their
hash, snapshots/<sha>/ of relative symlinks, no refs/main. A tiny Mistral config stands in."""
import hashlib
import json
import os
import sys
from pathlib import Path

root, model, sha = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
repo = root / "hub" / ("models--" + model.replace("/", "--"))
files = {
    "config.json": json.dumps({"architectures": ["MistralForCausalLM"], "model_type": "mistral",
                               "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
                               "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 512,
                               "max_position_embeddings": 512}).encode(),
    "generation_config.json": b'{"max_new_tokens": 64}',
    "model-00001-of-00001.safetensors": os.urandom(1 << 20),
}
for name, data in files.items():
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    link = repo / "snapshots" / sha / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
PY
w=$(bah from --quiet --name offbatch-check-weights offbatch-check-system)
bah copy --quiet "$w" "$SEED" /opt/huggingface
if out=$(run_in "$w" --env MODEL="$MODEL" --env MODEL_REVISION=main -- /opt/offbatch/install.sh weights 2>&1); then
    die "install.sh weights accepted MODEL_REVISION=main"
fi
grep -q "must be a full 40-character commit sha" <<<"$out" || die "unexpected refusal of 'main': $out"
ok "a branch name is refused: $(grep -o 'MODEL_REVISION must.*' <<<"$out")"
install_step "$w" weights "${WHEELS[@]}" --env HF_HUB_OFFLINE=1 --env MODEL="$MODEL" --env MODEL_REVISION="$REVISION"
sed 's/^/   /' <(grep '^weights layer' "$DIR/weights.log")
for n in $(seq 1 "$(sed -n 's/^WEIGHT_LAYERS=//p' "$CONTEXT/install.sh")"); do
    bah copy --quiet --from "$w" "$c" "/stage/weights-$n/" /opt/huggingface/
done
layer "$c" offbatch-check-weights

step "offbatch: install.sh offbatch (this working tree)"
rm -rf "$DIR/src-tree" && mkdir -p "$DIR/src-tree"
tar -C "$ROOT" --exclude=__pycache__ --exclude='*.egg-info' -cf - pyproject.toml README.md src | tar -C "$DIR/src-tree" -xf -
bah copy --quiet "$c" "$DIR/src-tree" /opt/offbatch/src-tree
install_step "$c" offbatch "${HOST_CA[@]}"
bah config --env OFFBATCH_VLLM_MODEL="$MODEL" --env OFFBATCH_VLLM_REVISION="$REVISION" \
    --env OFFBATCH_IMAGE_LOCK=/opt/offbatch/requirements.lock --env HF_HUB_OFFLINE=1 \
    --user "$WORKER_UID" --workingdir /home/offbatch --entrypoint '["offbatch"]' --cmd run-task "$c"

step "checks inside the image, as its configured user"
as_worker() { run_in "$c" "$@"; }
as_worker -- sh -ec 'test "$(id -u)" != 0; test "$(id -u)" = '"$WORKER_UID"'
    test -d "$HOME" && touch "$HOME/.write-probe" && rm "$HOME/.write-probe"; echo "   ok: user $(id -un) ($(id -u)), home $HOME writable"'
as_worker -- sh -ec 'inc=$(python -c "import sysconfig; print(sysconfig.get_paths()[\"include\"])")
    printf "#include <Python.h>\nint f(void) { return Py_IsInitialized(); }\n" | gcc -c -x c -I"$inc" -o /tmp/probe.o -
    echo "   ok: $(gcc --version | head -1) compiles against $inc/Python.h"'
as_worker -- python -c "
import time; t = time.time()
import vllm, triton, torch, offbatch
print(f'   ok: import vllm {vllm.__version__}, triton {triton.__version__}, torch {torch.__version__} '
      f'(CUDA {torch.version.cuda}), offbatch in {time.time() - t:.1f} s; cuda available here: {torch.cuda.is_available()}')
print(f'   ok: torch built for {\" \".join(torch._C._cuda_getArchFlags().split())}')"
as_worker -- python -c "
import os, re
from importlib.metadata import version, PackageNotFoundError
lock = os.environ['OFFBATCH_IMAGE_LOCK']
pins = dict(re.match(r'^([A-Za-z0-9._-]+)==(\S+)', l).groups() for l in open(lock) if re.match(r'^[A-Za-z0-9._-]+==', l))
bad = []
for name, want in pins.items():
    try:
        got = version(name)
    except PackageNotFoundError:
        got = None
    if got != want:
        bad.append(f'{name} {got} != {want}')
assert not bad, 'not the lock: ' + ', '.join(bad)
print(f'   ok: all {len(pins)} packages of {lock} installed at the locked version')"
as_worker -- python -c "
import os
from pathlib import Path
from huggingface_hub import snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
model, sha = os.environ['OFFBATCH_VLLM_MODEL'], os.environ['OFFBATCH_VLLM_REVISION']
assert os.environ['HF_HUB_OFFLINE'] == '1'
path = Path(snapshot_download(model, revision=sha))
assert path.name == sha and (path / 'config.json').is_file(), path
from transformers import AutoConfig
config = AutoConfig.from_pretrained(model, revision=sha)
try:
    snapshot_download(model, revision='main')
    raise SystemExit('revision main resolved offline: there should be no refs/main')
except LocalEntryNotFoundError:
    pass
print(f'   ok: {model}@{sha[:12]} resolves offline to {path} ({config.model_type}); \"main\" does not')"

step "run-task: the CPU engine on an input shard written by offbatch launch"
rm -rf "$DIR/launch" "$DIR/task" && mkdir -p "$DIR/task"
OFFBATCH_HOME=$DIR/launch "$PY" -m offbatch launch ingredients-spellcheck --backend local --limit 40 --wait \
    >"$DIR/launch.log" 2>&1 || { tail -20 "$DIR/launch.log"; die "offbatch launch failed (log: $DIR/launch.log)"; }
input=$(find "$DIR/launch" -path '*/input/part-00000.parquet' | head -1)
[[ -n $input ]] || die "offbatch launch wrote no input part under $DIR/launch"
cp -r "$(dirname "$input")" "$DIR/task/input"
mkdir -p "$DIR/task/output" && chown -R "$WORKER_UID" "$DIR/task"
as_worker -v "$DIR/task:/task" --env OFFBATCH_CONTRACT=1 --env OFFBATCH_JOB_ID=image-check \
    --env OFFBATCH_JOB_TYPE=ingredients-spellcheck --env OFFBATCH_INPUT_URL=/task/input \
    --env OFFBATCH_OUTPUT_URL=/task/output --env OFFBATCH_ENGINE=cpu --env OFFBATCH_CHUNK_SIZE=8 \
    --env BATCH_TASK_INDEX=0 --env BATCH_TASK_COUNT=1 -- offbatch run-task >"$DIR/run-task.log" 2>&1 \
    || { tail -20 "$DIR/run-task.log"; die "offbatch run-task failed in the image (log: $DIR/run-task.log)"; }
"$PY" - "$DIR/task/input/part-00000.parquet" "$DIR/task/output/part-00000.parquet" <<'PY'
import sys
import pyarrow.parquet as pq
rows_in, rows_out = pq.read_metadata(sys.argv[1]).num_rows, pq.read_metadata(sys.argv[2]).num_rows
assert rows_in > 0 and rows_out == rows_in, (rows_in, rows_out)
print(f"   ok: {rows_in} input rows -> output part with {rows_out} rows ({sys.argv[2]})")
PY

step "archive: $ARCHIVE"
rm -f "$ARCHIVE"
bah commit --quiet "$c" "oci-archive:$ARCHIVE:ingredients-spellcheck:check" >/dev/null
# Layer sizes from the archive's own manifest (uncompressed tars; a push compresses them).
"$PY" - "$ARCHIVE" <<'PY'
import json
import sys
import tarfile

with tarfile.open(sys.argv[1]) as tar:
    members = {m.name.removeprefix("./"): m for m in tar}
    index = json.load(tar.extractfile(members["index.json"]))
    digest = index["manifests"][0]["digest"].replace(":", "/")
    layers = json.load(tar.extractfile(members[f"blobs/{digest}"]))["layers"]
names = ["debian base", "system", "cuda-libs", "python", "weights", "offbatch"]
for n, layer in enumerate(layers):
    name = names[n] if len(layers) == len(names) else f"layer {n + 1}"
    print(f"   {name:>11}: {layer['size'] / 1e6:9.1f} MB  {layer['digest'][:19]}")
sizes = [layer["size"] for layer in layers]
print(f"   {len(layers)} layers, {sum(sizes) / 1e9:.2f} GB; largest {max(sizes) / 1e9:.2f} GB")
assert max(sizes) < 10e9, "a layer is over 10 GB: registries such as GHCR refuse it"
PY
ok "$(du -h "$ARCHIVE" | cut -f1) archive; push: skopeo copy oci-archive:$ARCHIVE docker://REGION-docker.pkg.dev/PROJECT/REPO/ingredients-spellcheck:TAG"
step "image-check passed in $((SECONDS - START)) s"
