// The live object's life: file descriptors owned and released, errors that name their cause.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Capture } from '../src/capture.ts';
import {
  ATTACH_MODES,
  type AttachMode,
  type CaptureOptions,
  captureSpec,
  DEFAULT_OBJECT_PATH,
} from '../src/config.ts';
import { BpfError, KeyNotFoundError, VerifierError } from '../src/errors.ts';
import { LoadedObject } from '../src/object.ts';
import { expectedTcMechanism, openFds, requireBpf } from './kernel.ts';

const NODE = process.execPath;
const CAPTURE_OBJECT = DEFAULT_OBJECT_PATH;
const CAPTURE = fileURLToPath(new URL('../src/capture.ts', import.meta.url));
let dir = '';

before(() => {
  requireBpf('the capture tests');
  dir = mkdtempSync(join(tmpdir(), 'owlk8s-ebpf-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Registers a test once per attach mode ('socket', 'tc'), the mode in its name. */
function testBoth(name: string, fn: (attach: AttachMode) => void | Promise<void>): void {
  for (const attach of ATTACH_MODES) test(`${name} [${attach}]`, () => fn(attach));
}

testBoth(
  'load, attach to lo, targets, read, detach, close: 20 rounds leave no file descriptor behind',
  (attach) => {
    // libbpf and libc are opened once per process, and so is the rtnetlink socket (clsact filters
    // are written through it): one warm-up round opens them, not a leak.
    const warm = Capture.load({ attach });
    warm.attach(1);
    warm.close();
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const cap = Capture.load({ attach });
      cap.attach(1);
      cap.attach(1); // a second attach to the same interface is a no-op, not a second socket or link
      assert.deepEqual(cap.attached, [1]);
      assert.equal(cap.attachedVia(1), attach === 'tc' ? expectedTcMechanism() : 'socket');
      cap.setTarget('198.18.0.9', 1, i);
      cap.setTarget('2001:2::9', 1, i);
      cap.read();
      cap.deleteTarget('2001:2::9');
      cap.detach(1);
      cap.attach(1);
      cap.close();
      cap.close();
      assert.equal(cap.closed, true);
    }
    assert.equal(openFds(), before);
  },
);

testBoth('a failed attach leaves nothing open, and the error names the interface', (attach) => {
  using cap = Capture.load({ attach });
  const before = openFds();
  assert.throws(
    () => cap.attach(999999),
    (e: unknown) => {
      assert.ok(e instanceof BpfError);
      assert.equal(e.errno, 19);
      assert.equal(
        e.message,
        attach === 'socket'
          ? 'attach ifindex 999999: bind: ENODEV (no interface with this index)'
          : expectedTcMechanism() === 'tcx'
            ? 'attach ifindex 999999: TCX link ingress: ENODEV (no interface with this index)'
            : 'attach ifindex 999999: TCX refused (EINVAL), then clsact: add clsact qdisc: ENODEV (no interface with this index)',
      );
      return true;
    },
  );
  assert.equal(openFds(), before);
  assert.deepEqual(cap.attached, []);
});

test('a closed capture refuses work with a clear error', () => {
  const cap = Capture.load();
  cap.close();
  assert.throws(() => cap.setTarget('198.18.0.9', 1, 1), /capture: closed/);
  assert.throws(() => cap.read(), /capture: closed/);
});

test('bad input names the thing and what would be right', () => {
  assert.throws(
    () => Capture.load({ boundariesNs: [5n, 3n] }),
    /boundariesNs\[1\] is 3: bounds must be positive bigint nanoseconds, strictly ascending/,
  );
  assert.throws(
    () => Capture.load({ boundariesNs: new Array(33).fill(0n).map((_, i) => BigInt(i + 1)) }),
    /has 33 bounds: at most 32/,
  );
  assert.throws(() => Capture.load({ ports: [0] }), /ports holds 0: ports are integers from 1 to 65535/);
  assert.throws(
    () => Capture.load({ attach: 'xdp' as AttachMode }),
    /^Error: capture option attach is "xdp": expected "socket" or "tc"$/,
  );
  assert.equal(captureSpec().attach, 'socket');
  assert.throws(() => Capture.load({ maxConnections: 0 }), /maxConnections is 0: expected an integer from 1/);
  assert.throws(
    () => Capture.load({ maxInflight: 64 } as CaptureOptions),
    /^Error: capture option maxInflight was renamed maxConnections/,
  );
  assert.throws(
    () => Capture.load({ interfaceSlots: 1000 }),
    /interfaceSlots is 1000: expected a power of two/,
  );
  assert.equal(captureSpec({ maxTargets: 5000 }).interfaceSlots, 8192);
  assert.equal(captureSpec({ maxTargets: 5000, interfaceSlots: 64 }).interfaceSlots, 64);
  using cap = Capture.load();
  assert.throws(() => cap.setTarget('pod-a', 1, 1), /"pod-a" is not an IP address/);
  assert.throws(() => cap.setTarget('198.18.0.9', 1, -1), /target id -1 is not an unsigned 32-bit integer/);
  assert.throws(
    () => cap.deleteTarget('198.18.0.77'),
    (e: unknown) => e instanceof KeyNotFoundError && e.errno === 2,
  );
});

test('peers: setPeer refuses id 0 and a bad address, deletePeer an unknown one; a full map says to raise maxPeers', () => {
  using cap = Capture.load({ maxPeers: 2 });
  assert.throws(
    () => cap.setPeer('198.18.1.1', 0),
    /^Error: setPeer 198.18.1.1: peer id 0 is not an integer from 1 to 4294967295 \(0 is the kernel's "not a known peer"\)$/,
  );
  assert.throws(() => cap.setPeer('svc-a', 1), /"svc-a" is not an IP address/);
  assert.throws(
    () => cap.deletePeer('198.18.1.1'),
    (e: unknown) => e instanceof KeyNotFoundError && /deletePeer 198.18.1.1/.test(String(e)),
  );
  cap.setPeer('198.18.1.1', 1);
  cap.setPeer('2001:2::1:1', 2);
  cap.setPeer('198.18.1.1', 3); // overwrites: no room taken
  assert.throws(
    () => cap.setPeer('198.18.1.2', 4),
    (e: unknown) =>
      e instanceof BpfError && /setPeer 198.18.1.2: write peers: E2BIG.*raise maxPeers \(2\)/.test(e.message),
  );
  cap.deletePeer('198.18.1.1');
  cap.setPeer('198.18.1.2', 4);
});

test('a missing object file says how to build it', () => {
  assert.throws(
    () => Capture.load({ objectPath: join(dir, 'none.bpf.o') }),
    /none\.bpf\.o: ENOENT \(no such file: build it with `make -C bpf`\)/,
  );
});

test('a verifier rejection carries the verifier log', () => {
  const src = join(dir, 'bad.bpf.c');
  writeFileSync(
    src,
    '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("socket") int owlk8s_capture(struct __sk_buff *skb)\n' +
      '{ int x[4]; return x[skb->len & 3]; }\nchar LICENSE[] SEC("license") = "GPL";\n',
  );
  execFileSync('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    '-I/usr/include/x86_64-linux-gnu',
    '-c',
    src,
    '-o',
    join(dir, 'bad.bpf.o'),
  ]);
  const before = openFds();
  assert.throws(
    () => LoadedObject.load(join(dir, 'bad.bpf.o'), ['owlk8s_capture']),
    (e: unknown) => {
      assert.ok(e instanceof VerifierError);
      assert.equal(e.errno, 13);
      assert.match(
        e.message,
        /load program owlk8s_capture: EACCES \(the verifier rejected the program; last lines of its log:\n/,
      );
      assert.match(e.log, /R0 !read_ok/);
      return true;
    },
  );
  assert.equal(openFds(), before);
});

test('a load interrupted by signals (a CPU profiler signals every 100 µs) says so, not that the verifier rejected the program', () => {
  // The verifier stops with EAGAIN when a signal is pending; libbpf retries 5 times. Node's
  // --cpu-prof sends the main thread SIGPROF at each sample, far more often than a load takes.
  const prof = mkdtempSync(join(tmpdir(), 'owlk8s-prof-'));
  try {
    const script = `import { Capture } from ${JSON.stringify(CAPTURE)}; try { Capture.load().close(); console.log('loaded'); } catch (e) { console.log(e.name + ' ' + e.errno + ': ' + e.message); }`;
    const r = spawnSync(
      NODE,
      [
        '--cpu-prof',
        '--cpu-prof-interval=100',
        `--cpu-prof-dir=${prof}`,
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(
      (r.stdout + r.stderr).trim(),
      `BpfError 11: ${CAPTURE_OBJECT}: load: EWOULDBLOCK (interrupted by signals: the verifier stops when one arrives, and libbpf tried 5 times; a CPU profiler (node --cpu-prof or --prof) signals the process every millisecond: load without it (perf record does not signal the process))`,
    );
  } finally {
    rmSync(prof, { recursive: true, force: true });
  }
});

test("loads without the kernel's own BTF: /sys/kernel/btf hidden, the program still loads", () => {
  // The object carries its own BTF (its global functions need it) and no CO-RE relocation, so
  // /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF) is not needed at run time. A mount namespace
  // of its own hides the directory under an empty tmpfs for one child process.
  const script = `import { existsSync } from 'node:fs'; import { Capture } from ${JSON.stringify(CAPTURE)}; console.log('vmlinux BTF visible: ' + existsSync('/sys/kernel/btf/vmlinux')); try { Capture.load().close(); console.log('loaded'); } catch (e) { console.log(e.message); }`;
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      'sh',
      '-c',
      'if [ -d /sys/kernel/btf ]; then mount -t tmpfs none /sys/kernel/btf || exit 1; fi; exec "$0" --input-type=module -e "$1"',
      NODE,
      script,
    ],
    { encoding: 'utf8' },
  );
  if (r.error) throw new Error(`unshare (util-linux) is needed for this test: ${r.error.message}`);
  assert.equal((r.stdout + r.stderr).trim(), 'vmlinux BTF visible: false\nloaded');
});

test('socket attach on a kernel whose net.core.optmem_max is below the program: ENOMEM naming the sysctl', (t) => {
  // A socket filter is charged to its socket, up to net.core.optmem_max bytes; the program is
  // larger than 6.1's default (20480). Lowered here in a network namespace of its own, where the
  // kernel keeps one per namespace (6.18 does; 6.1 keeps one for the whole machine).
  const own = spawnSync('unshare', ['--net', 'test', '-w', '/proc/sys/net/core/optmem_max']);
  if (own.error) throw new Error(`unshare (util-linux) is needed for this test: ${own.error.message}`);
  if (own.status !== 0) {
    t.skip('net.core.optmem_max is one for the whole machine on this kernel: not lowered for a test');
    return;
  }
  const script = `import { Capture } from ${JSON.stringify(CAPTURE)}; const c = Capture.load(); try { c.attach(1); console.log('attached'); } catch (e) { console.log(e.message); } c.close();`;
  const r = spawnSync(
    'unshare',
    [
      '--net',
      'sh',
      '-c',
      'echo 20480 > /proc/sys/net/core/optmem_max && exec "$0" --input-type=module -e "$1"',
      NODE,
      script,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(
    (r.stdout + r.stderr).trim(),
    'attach ifindex 1: setsockopt SO_ATTACH_BPF: ENOMEM (the program is larger than net.core.optmem_max (20480 bytes), the filter memory a socket may hold: raise it (sysctl -w net.core.optmem_max=262144) or use capture.attach: tc)',
  );
});

function withoutCaps(caps: string, script: string): string {
  const r = spawnSync('setpriv', [`--bounding-set=${caps}`, NODE, '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  if (r.error) throw new Error(`setpriv (util-linux) is needed for this test: ${r.error.message}`);
  const out = (r.stdout + r.stderr).trim();
  // A child that says nothing died: name how, so a failure says more than ''.
  return out !== '' ? out : `(no output: exit status ${r.status}, signal ${r.signal})`;
}

test('without CAP_BPF (and CAP_SYS_ADMIN, which also grants it) the error says CAP_BPF', () => {
  const out = withoutCaps(
    '-bpf,-sys_admin,-perfmon',
    `import { Capture } from ${JSON.stringify(CAPTURE)}; try { Capture.load(); console.log('loaded'); } catch (e) { console.log(e.message); }`,
  );
  assert.match(
    out,
    /owlk8s\.bpf\.o: load: EPERM \(needs CAP_BPF: run as root or grant CAP_BPF \(and CAP_NET_RAW to attach\)\)$/,
  );
});

test('without CAP_NET_RAW loading works and attaching says CAP_NET_RAW', () => {
  const out = withoutCaps(
    '-net_raw',
    `import { Capture } from ${JSON.stringify(CAPTURE)}; const c = Capture.load(); try { c.attach(1); console.log('attached'); } catch (e) { console.log(e.message); } c.close();`,
  );
  assert.equal(
    out,
    'attach ifindex 1: socket AF_PACKET: EPERM (needs CAP_NET_RAW: run as root or grant CAP_NET_RAW)',
  );
});

test("socket mode loads and attaches without CAP_NET_ADMIN: the object's TC program is not loaded", () => {
  const out = withoutCaps(
    '-net_admin,-sys_admin',
    `import { Capture } from ${JSON.stringify(CAPTURE)}; const c = Capture.load(); c.attach(1); console.log(c.attachedVia(1)); c.close();`,
  );
  assert.equal(out, 'socket');
});

test('tc mode without CAP_NET_ADMIN: the load says CAP_NET_ADMIN', () => {
  const out = withoutCaps(
    '-net_admin,-sys_admin',
    `import { Capture } from ${JSON.stringify(CAPTURE)}; try { Capture.load({ attach: 'tc' }); console.log('loaded'); } catch (e) { console.log(e.message); }`,
  );
  assert.match(
    out,
    /owlk8s\.bpf\.o: load: EPERM \(needs CAP_BPF and CAP_NET_ADMIN \(a TC program\): run as root or grant both\)$/,
  );
});
