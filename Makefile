# wasmcollector: build, demo, test, bench. `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := build/wasmcollector
MODULES_DIR := build/modules
EXAMPLES := $(notdir $(patsubst %/,%,$(wildcard examples/*/)))
GUESTS := $(EXAMPLES:%=$(MODULES_DIR)/%.wasm)
GUEST_SRC := $(shell find guest-sdk/go internal/abi -name '*.go' -not -name '*_test.go')

.PHONY: all build guests demo test check bench deps vet fmt clean help

all: build guests ## Build the CLI and the example collectors

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## Build the CLI into build/wasmcollector
	$(GO) build -o $(BIN) ./cmd/wasmcollector

guests: $(GUESTS) ## Build every example collector into build/modules/

$(MODULES_DIR)/%.wasm: examples/%/*.go $(GUEST_SRC)
	@mkdir -p $(MODULES_DIR)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o $@ ./examples/$*

demo: build guests ## Build everything, start the local ingress, gather the examples and ship them to it
	scripts/demo

deps: ## Install what the tests need (Debian packages) when missing
	@command -v wat2wasm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wabt; }

test: deps guests ## Install test dependencies, build every guest, run all tests with the race detector
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./guest-sdk/... ./examples/... ./internal/testguests/...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 30m ./...

check: test ## Same as test

bench: deps guests ## Run the benchmarks (no race detector); each reports a native baseline beside it
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $$($(GO) list ./... | grep -v '/gather$$')
	$(GO) test -run '^$$' -bench Gather -benchtime 1x ./gather/

fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

clean: ## Remove build output
	rm -rf build out
