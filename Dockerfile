# Kite agent image. Build: docker build -t kite .
# Run (one per node, as a DaemonSet or by hand): the agent needs the host's PID namespace and BPF
# privileges; BTF comes from the host kernel at /sys/kernel/btf/vmlinux.
#   docker run --rm --pid=host --privileged -v /sys/kernel/btf:/sys/kernel/btf:ro kite
# (least-privilege capabilities instead of --privileged: CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH.)

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
 && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/kite
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/build/bpf/*.bpf.o ./build/bpf/
COPY --from=build /src/config ./config
ENTRYPOINT ["node", "/opt/kite/dist/src/main.js"]
CMD ["run", "--config", "/opt/kite/config/default.yaml"]
