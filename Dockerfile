# Kite agent image. Build: docker build -t kite .
# Run (one per node, as a DaemonSet or by hand): the agent runs as an unprivileged user and needs the
# host's PID namespace and the capabilities of docs/capabilities.md; BTF comes from the host kernel.
#   docker run --rm --pid=host --cap-drop=ALL --cap-add=BPF --cap-add=PERFMON --cap-add=SYS_PTRACE \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro kite
# (the image gives its user those capabilities as file capabilities of the node binary it runs, so
# they are effective without root; config/kubernetes/kite.yaml does the same in a cluster.)

# --- build: BPF objects (clang, CO-RE) and TypeScript ---
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang llvm libbpf-dev bpftool make gcc libc6-dev python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json* ./
RUN npm install --no-audit --no-fund
COPY . .
# vmlinux.h is generated from the build host's BTF; CO-RE relocates the objects on any BTF kernel.
RUN make build APT_PKGS="clang llvm libbpf-dev bpftool make gcc libc6-dev" \
 && npm prune --omit=dev

# --- runtime: Node 20, libbpf, the compiled agent and its BPF objects ---
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && cp /usr/local/bin/node /usr/local/bin/kite-node \
 && setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep /usr/local/bin/kite-node
WORKDIR /opt/kite
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/build/bpf/*.bpf.o /src/build/bpf/syscalls.json ./build/bpf/
COPY --from=build /src/build/bpf/probe ./build/bpf/probe
COPY --from=build /src/config ./config
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/kite-node", "--max-semi-space-size=4", "/opt/kite/dist/src/main.js"]
CMD ["run", "--config", "/opt/kite/config/default.yaml"]
