# Kite: `make run` and `make test` work on a fresh Debian 12 machine as root.
SHELL := /bin/bash
.DEFAULT_GOAL := build

BUILD   := build
BPF_OUT := $(BUILD)/bpf
VMLINUX := $(BUILD)/vmlinux.h
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CLANG   ?= clang
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf
BPF_SRCS := $(wildcard bpf/*.bpf.c) $(wildcard bpf/test/*.bpf.c) $(wildcard bpf/bench/*.bpf.c) $(wildcard bpf/probe/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.bpf.o,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard bpf/lib/*.h)
TS_SRCS  := $(shell find src test -name '*.ts' 2>/dev/null)
CONFIG  ?= config/default.yaml
# V8's young generation capped at 4 MB semi-spaces: the agent's garbage is short-lived records, and
# the default 16 MB semi-spaces only add resident memory (docs/architecture.md)
KITE_NODE_FLAGS := --max-semi-space-size=4

APT_PKGS := clang llvm libbpf-dev bpftool libbpf-tools make gcc libc6-dev iproute2 python3 util-linux
# kernel tests run real containers (test/helpers/containers.ts) and a pod through containerd's CRI
APT_PKGS += podman runc busybox-static tcpdump unzip bpftrace containerd
DEPS_STAMP := $(BUILD)/.deps

.PHONY: deps build bpf ts syscalls run test test-guest-all bench clean mounts docs install

## deps: install whatever is missing (Debian packages, Node >= 20, npm dependencies)
deps: $(DEPS_STAMP)
$(DEPS_STAMP): package.json test/scripts/install-deps.sh
	@bash test/scripts/install-deps.sh $(APT_PKGS)
	@mkdir -p $(BUILD) && touch $@

$(VMLINUX): | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(VMLINUX)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

bpf: $(BPF_OBJS)

dist/.stamp: $(TS_SRCS) tsconfig.json $(DEPS_STAMP)
	npx tsc -p tsconfig.json
	@chmod +x dist/src/main.js
	@touch $@
ts: dist/.stamp

# syscall names per ABI for `kite advise seccomp`, from the kernel's UAPI headers (linux-libc-dev)
SYSCALLS := $(BPF_OUT)/syscalls.json
$(SYSCALLS): dist/.stamp
	@mkdir -p $(dir $@)
	node dist/src/commands/seccomp/syscall-table.js > $@.tmp && mv $@.tmp $@
syscalls: $(SYSCALLS)

## build: BPF objects, TypeScript and the syscall table
build: deps bpf ts syscalls

mounts:
	@bash test/scripts/mounts.sh

## run: the agent on the default pipeline (exec -> console); CONFIG=... to pick another
run: build mounts
	node $(KITE_NODE_FLAGS) dist/src/main.js run --config $(CONFIG)

## test: every test (unit, layout, kernel as root)
test: build mounts
	bash test/scripts/test.sh

## bench: benchmarks side by side with peer tracers
bench: build mounts
	bash test/bench/run.sh

clean:
	rm -rf $(BUILD) dist

## docs: regenerate the reference section of every component README from its schema
docs: build
	node dist/test/scripts/gen-docs.js

## install: put `kite` on the PATH (/usr/local/bin/kite -> this checkout's build)
install: build
	ln -sf $(CURDIR)/dist/src/main.js /usr/local/bin/kite
	@echo "kite installed: $$(command -v kite)"

## test-guest-all: every kernel test (CLI ones too) in the qemu guest; slow under emulation
test-guest-all: build mounts
	KITE_VM_ALL=1 node --test --test-reporter=spec dist/test/vm/
