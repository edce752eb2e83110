# wasmcollector: build, demo, test, bench. `make help` lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := build/wasmcollector
MODULES_DIR := build/modules
# Single-collector examples (examples/NAME/main.go), and the AWX-like product (examples/awx).
EXAMPLES := $(notdir $(patsubst %/main.go,%,$(wildcard examples/*/main.go)))
GUESTS := $(EXAMPLES:%=$(MODULES_DIR)/%.wasm) $(MODULES_DIR)/awx.wasm $(MODULES_DIR)/awx.toml
# The C and Rust ports need Debian's clang and rustc (make deps installs them).
NATIVE_GUESTS := $(MODULES_DIR)/job_events_rust.wasm $(MODULES_DIR)/job_events_c.wasm
# Packages that build for GOOS=wasip1: every guest. The Go SDK (guest-sdk/go, with its abi
# package) is a module of its own, which ./... at the root does not enter: SDK_DIR's targets are run
# inside it.
WASM_PKGS := $(EXAMPLES:%=./examples/%) ./examples/awx/collectors \
	$(patsubst %/,./%,$(dir $(wildcard internal/testguests/*/main.go)))
SDK_DIR   := guest-sdk/go
GUEST_SRC := $(shell find $(SDK_DIR) -name '*.go' -not -name '*_test.go') $(SDK_DIR)/go.mod

.PHONY: all build guests guests-all demo test fuzz check bench deps vet fmt clean help package

# Packages (make package). The version comes from git describe, made valid for deb and rpm alike:
# v1.2.3 -> 1.2.3, v1.2.3-4-gabc1234 -> 1.2.3+git4.gabc1234, v1.2.3-rc1 -> 1.2.3~rc1 (sorts
# before 1.2.3 in both), -dirty -> .dirty; with no v* tag, 0.0.0+git<commits>.g<hash>.
PKG_VERSION ?= $(shell { git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || \
	echo "0.0.0-$$(git rev-list --count HEAD 2>/dev/null || echo 0)-g$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"; } | \
	sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)/+git\1.g\2/; s/-dirty$$/.dirty/; s/-/~/g; s/[^A-Za-z0-9.+~]/./g')
PKG_DIR := build/dist
# The man pages, next to the binary they were generated from.
MAN_DIR = $(dir $(BIN))man
# nfpm is a Go tool of its own module (tools/go.mod), built once into build/.
NFPM := build/nfpm

all: build guests ## Build the CLI and the example collectors

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## Build the CLI into build/wasmcollector and the example data generator into build/awxgen
	$(GO) build -o $(BIN) ./cmd/wasmcollector
	$(GO) build -o build/awxgen ./examples/awx/gen

guests: $(GUESTS) ## Build the Go example collectors into build/modules/ (all the demo needs)

guests-all: guests $(NATIVE_GUESTS) ## Also build the C and Rust ports (needs make deps)

$(MODULES_DIR)/%.wasm: examples/%/*.go $(GUEST_SRC)
	@mkdir -p $(MODULES_DIR)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o $@ ./examples/$*

# The C port of job_events, with Debian's clang, lld and wasi-libc.
$(MODULES_DIR)/job_events_c.wasm: examples/job_events_c/job_events.c guest-sdk/c/wasmcollector.h
	@mkdir -p $(MODULES_DIR)
	clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Iguest-sdk/c -o $@ $<
	wasm-strip $@

# The Rust port of job_events, with Debian's rustc (rustup cannot fetch wasm targets here).
RUST_SDK_SRC := guest-sdk/rust/Cargo.toml guest-sdk/rust/Cargo.lock $(wildcard guest-sdk/rust/src/*.rs)
CARGO_TARGET := build/cargo-target

$(MODULES_DIR)/job_events_rust.wasm: examples/job_events_rust/Cargo.toml examples/job_events_rust/Cargo.lock $(wildcard examples/job_events_rust/src/*.rs) $(RUST_SDK_SRC)
	@mkdir -p $(MODULES_DIR)
	RUSTC=/usr/bin/rustc CARGO_HOME=$(abspath $(CARGO_TARGET))/cargo-home /usr/bin/cargo build --offline --locked --release \
		--target wasm32-wasi --manifest-path examples/job_events_rust/Cargo.toml --target-dir $(CARGO_TARGET)
	cp $(CARGO_TARGET)/wasm32-wasi/release/job_events_rust.wasm $@

$(MODULES_DIR)/awx.wasm: examples/awx/collectors/*.go $(GUEST_SRC)
	@mkdir -p $(MODULES_DIR)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o $@ ./examples/awx/collectors

$(MODULES_DIR)/awx.toml: examples/awx/awx.toml ## the AWX module's sidecar: dropping both files in is all a vendor does
	@mkdir -p $(MODULES_DIR)
	cp $< $@

demo: build guests ## Build everything, start the local ingress (on DEMO_PORT, default 18080), gather the examples and ship them to it
	scripts/demo

deps: ## Install what the tests need when missing: wabt, PostgreSQL (tests start their own on loopback), clang + wasi-libc, Rust's wasm std, rpm and strace (the package test), Chromium (serve's real-browser test)
	@missing=""; \
	command -v wat2wasm >/dev/null || missing="$$missing wabt"; \
	command -v clang >/dev/null || missing="$$missing clang"; \
	command -v wasm-ld >/dev/null || missing="$$missing lld"; \
	test -e /usr/lib/wasm32-wasi/libc.a || missing="$$missing wasi-libc"; \
	ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || missing="$$missing libclang-rt-dev-wasm32"; \
	test -x /usr/bin/rustc || missing="$$missing rustc"; \
	test -x /usr/bin/cargo || missing="$$missing cargo"; \
	ls /usr/lib/rustlib/wasm32-wasi/lib/libstd-*.rlib >/dev/null 2>&1 || missing="$$missing libstd-rust-dev-wasm32"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v rpm >/dev/null || missing="$$missing rpm"; \
	command -v strace >/dev/null || missing="$$missing strace"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Time per fuzz target: `make test` runs each for FUZZTIME (about 2 minutes for ~8 targets on 2
# cores), `make fuzz` for 2 minutes unless FUZZTIME is given.
FUZZTIME ?= 10s

test: deps guests-all $(NFPM) ## Install test dependencies, build every guest, run all tests with the race detector, then every fuzz target for FUZZTIME (10s)
	$(GO) vet ./...
	$(GO) -C $(SDK_DIR) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) -C $(SDK_DIR) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet $(WASM_PKGS)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 30m ./...
	$(GO) -C $(SDK_DIR) test -race -count=1 ./...
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz

fuzz: ## Run every fuzz target for FUZZTIME each (here 2m unless given); failing inputs land in testdata/fuzz
	GO=$(GO) FUZZTIME=$(if $(filter command line environment,$(origin FUZZTIME)),$(FUZZTIME),2m) scripts/fuzz

check: test ## Same as test

bench: deps guests-all ## Run the benchmarks (no race detector); each reports a native baseline beside it
	$(GO) test -run '^$$' -bench . -benchmem -count 3 $$($(GO) list ./... | grep -v -e '/gather$$' -e '/e2e$$')
	$(GO) -C $(SDK_DIR) test -run '^$$' -bench . -benchmem -count 3 ./...
	$(GO) test -run '^$$' -bench Gather -benchtime 1x ./gather/
	$(GO) test -run '^$$' -bench 'Events|Rows' -benchtime 1x -timeout 60m ./internal/e2e/

fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

package: $(MODULES_DIR)/config.wasm $(NFPM) ## Build a static build/wasmcollector, its man pages and the .deb and .rpm into build/dist/
	CGO_ENABLED=0 $(GO) build -trimpath \
		-ldflags "-s -w -X github.com/wasmcollector/wasmcollector/internal/cli.Version=$(PKG_VERSION)" \
		-o $(BIN) ./cmd/wasmcollector
	@# Man pages from the command tree (the hidden `man` command), dated by the last commit so
	@# that the packages are reproducible, gzip'ed without names or times.
	rm -rf $(MAN_DIR) && mkdir -p $(MAN_DIR)
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) $(BIN) man $(MAN_DIR)
	gzip -9n $(MAN_DIR)/*.1
	@mkdir -p $(PKG_DIR)
	for p in deb rpm; do \
		PKG_VERSION='$(PKG_VERSION)' PKG_ARCH=$$($(GO) env GOARCH) PKG_BIN='$(BIN)' PKG_MODULES='$(MODULES_DIR)' PKG_MAN='$(MAN_DIR)' \
			$(NFPM) package --config dist/nfpm.yaml --packager $$p --target $(PKG_DIR)/ || exit 1; \
	done

$(NFPM): tools/go.mod tools/go.sum
	$(GO) -C tools build -o $(abspath $(NFPM)) github.com/goreleaser/nfpm/v2/cmd/nfpm

clean: ## Remove build output
	rm -rf build out
