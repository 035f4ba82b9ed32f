# annotary — the two commands: `make test` and `make demo`. Both set up everything they
# need on a fresh Debian machine (apt packages as root, npm ci, the local control plane).
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json

.PHONY: all deps build test test-unit test-e2e demo demo-down cluster-up cluster-down bench image typecheck lint format clean help

all: build

help:
	@echo "make test        install everything, lint, build, run unit + e2e tests on a local control plane"
	@echo "make lint        prettier --check and eslint (part of make test); make format rewrites the files"
	@echo "make demo        start the local control plane and annotary, show it working"
	@echo "make cluster-up / cluster-down   the local cluster alone: control plane + a node (NODE=0: none; docs/local-cluster.md)"
	@echo "make bench       benchmarks (not part of make test)"
	@echo "make image       build the Dockerfile with buildah, base image made locally; loaded into the node if one runs"

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

deps: $(NPM_STAMP)
	bash hack/cluster.sh deps

build: $(NPM_STAMP)
	npm run build

typecheck: $(NPM_STAMP)
	npx tsc -p tsconfig.json --noEmit

# formatting (prettier.config.js) and typescript-eslint's type-checked rules (eslint.config.js)
lint: $(NPM_STAMP)
	npm run lint

format: $(NPM_STAMP)
	npm run format

cluster-up: deps
	bash hack/cluster.sh up

cluster-down:
	bash hack/cluster.sh down

# lint first: a formatting or lint finding fails in seconds, before the control plane starts
test: lint deps build typecheck
	bash hack/test.sh

test-unit: $(NPM_STAMP)
	node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects unit

test-e2e: deps build
	bash hack/test.sh --selectProjects e2e

demo: deps build
	bash hack/demo.sh

demo-down:
	bash hack/demo.sh down

bench: deps build
	bash hack/bench.sh

# the Dockerfile as users build it, with buildah; its FROM made locally (hack/image.sh); make test
# runs it when the cluster has a node
image:
	bash hack/image.sh

clean:
	rm -rf dist dist-bench coverage
