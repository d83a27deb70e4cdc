// TC attachment (TcAttachment), both mechanisms (TCX links and the legacy clsact filters), on a real
// pod interface with a probe program (bpf/tc-probe.bpf.c) that counts TCP segments to or from port 9
// per interface and direction: it sees exactly the packets sent, leaves nothing behind, and lives beside another TC
// program (a CNI's) without disturbing it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { must, type Pod, requireBpf, sleep, TestNetwork } from '@owlk8s/e2e/harness';
import {
  BpfError,
  Capture,
  LEGACY_HANDLE,
  LEGACY_PRIORITY,
  LoadedObject,
  programStats,
  TcAttachment,
  type TcMechanism,
} from '@owlk8s/ebpf';
import * as sys from '../../packages/ebpf/src/sys/ffi.ts';

const PROBE = fileURLToPath(new URL('../../bpf/build/tc-probe.bpf.o', import.meta.url));
const EMPTY = fileURLToPath(new URL('../../bpf/build/empty.bpf.o', import.meta.url));
const TC_INDEX = fileURLToPath(new URL('../../packages/ebpf/src/index.ts', import.meta.url));
const openFds = (): number => readdirSync('/proc/self/fd').length;
const MECHANISMS: readonly TcMechanism[] = ['tcx', 'clsact'];

let net: TestNetwork;
let web: Pod;
let ifindex = 0;
let dev = '';

before(async () => {
  requireBpf('the TC attachment tests');
  net = await TestNetwork.create();
  web = await net.addRoutedPod('web', { ipv6: false });
  ifindex = await web.hostIfIndex();
  dev = web.hostIfName;
});
after(async () => {
  await net?.close();
});

/** A probe loaded from its own object: its own map, its own program ids. */
function probe(program = 'owlk8s_tc_probe') {
  const object = LoadedObject.load(PROBE, [program]);
  const fd = object.programFd(program);
  const seen = object.mapFd('seen');
  const read = (egress: boolean): number => {
    const key = Buffer.alloc(8);
    key.writeUInt32LE(ifindex, 0);
    key.writeUInt32LE(egress ? 1 : 0, 4);
    const value = Buffer.alloc(8);
    return sys.mapLookup(seen, key, value) < 0 ? 0 : Number(value.readBigUInt64LE(0));
  };
  return {
    fd,
    id: programStats(fd).id,
    /** Segments seen: [ingress, egress]. */
    seen: (): [number, number] => [read(false), read(true)],
    close: () => object.close(),
  };
}

/**
 * Connects to the pod's port 9, where nobody listens, n times: n SYNs leave the host through the pod's
 * interface (its egress), n RSTs come back (its ingress).
 */
async function knock(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const s = connect({ host: web.ipv4, port: 9 });
      s.once('connect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.once('error', resolve);
    });
    assert.equal(error?.code, 'ECONNREFUSED');
  }
}

/** What TC holds on the pod's interface: filters per direction, whether clsact is there, links by program id. */
async function tcState(): Promise<{ ingress: string[]; egress: string[]; clsact: boolean; links: number[] }> {
  const filters = async (d: string) =>
    (JSON.parse(await must(['tc', '-j', 'filter', 'show', 'dev', dev, d])) as Record<string, unknown>[])
      .filter((f) => f.options !== undefined)
      .map((f) => `pref ${f.pref} ${f.kind} handle ${(f.options as { handle?: string }).handle}`);
  const qdiscs = JSON.parse(await must(['tc', '-j', 'qdisc', 'show', 'dev', dev])) as { kind: string }[];
  const links = JSON.parse(await must(['bpftool', '-j', 'link', 'show'])) as {
    prog_id: number;
    ifindex?: number;
  }[];
  return {
    ingress: await filters('ingress'),
    egress: await filters('egress'),
    clsact: qdiscs.some((q) => q.kind === 'clsact'),
    links: links.map((l) => l.prog_id),
  };
}

const OURS = `pref ${LEGACY_PRIORITY} bpf handle 0x${LEGACY_HANDLE.toString(16)}`;

for (const mechanism of MECHANISMS) {
  test(`${mechanism}: the probe sees each segment once, and close leaves nothing behind`, async () => {
    const p = probe();
    try {
      using a = TcAttachment.open(p.fd, ifindex, mechanism);
      assert.equal(a.mechanism, mechanism);
      const s = await tcState();
      if (mechanism === 'tcx') {
        assert.deepEqual([s.ingress, s.egress, s.clsact], [[], [], false]);
        assert.deepEqual(
          s.links.filter((id) => id === p.id),
          [p.id, p.id],
        );
      } else {
        assert.deepEqual([s.ingress, s.egress, s.clsact], [[OURS], [OURS], true]);
        assert.deepEqual(
          s.links.filter((id) => id === p.id),
          [],
        );
      }
      await knock(5);
      assert.deepEqual(p.seen(), [5, 5]);
      a.close();
      a.close();
      assert.equal(a.closed, true);
      const after = await tcState();
      assert.deepEqual([after.ingress, after.egress, after.clsact], [[], [], false]);
      assert.deepEqual(
        after.links.filter((id) => id === p.id),
        [],
      );
      await knock(2);
      assert.deepEqual(p.seen(), [5, 5]);
    } finally {
      p.close();
    }
  });

  test(`${mechanism}: 20 rounds of attach and close leave no file descriptor and no filter behind`, async () => {
    const p = probe();
    try {
      TcAttachment.open(p.fd, ifindex, mechanism).close(); // libraries opened once: not a leak
      const fds = openFds();
      for (let i = 0; i < 20; i++) {
        using _a = TcAttachment.open(p.fd, ifindex, mechanism);
      }
      assert.equal(openFds(), fds);
      const s = await tcState();
      assert.deepEqual([s.ingress, s.egress, s.clsact], [[], [], false]);
      assert.deepEqual(
        s.links.filter((id) => id === p.id),
        [],
      );
    } finally {
      p.close();
    }
  });
}

test('tcx beside another TCX program: both see every segment, and closing ours leaves theirs attached', async () => {
  const theirs = probe();
  const ours = probe();
  const links: number[] = [];
  try {
    for (const type of [sys.BPF_TCX_INGRESS, sys.BPF_TCX_EGRESS]) {
      const fd = sys.linkCreate(theirs.fd, ifindex, type, 0);
      assert.ok(fd >= 0, `their link: errno ${-fd}`);
      links.push(fd);
    }
    using a = TcAttachment.open(ours.fd, ifindex, 'tcx'); // first in the chain, theirs after
    await knock(4);
    assert.deepEqual(
      [ours.seen(), theirs.seen()],
      [
        [4, 4],
        [4, 4],
      ],
    );
    a.close();
    const s = await tcState();
    assert.deepEqual(
      s.links.filter((id) => id === theirs.id || id === ours.id),
      [theirs.id, theirs.id],
    );
    await knock(3);
    assert.deepEqual(
      [ours.seen(), theirs.seen()],
      [
        [4, 4],
        [7, 7],
      ],
    );
  } finally {
    for (const l of links) sys.close(l);
    ours.close();
    theirs.close();
  }
});

test('a program that returns TC_ACT_OK ends the chain: the one after it sees nothing (why ours returns TC_ACT_UNSPEC)', async () => {
  const theirs = probe();
  const ok = probe('owlk8s_tc_probe_ok');
  const links: number[] = [];
  try {
    for (const type of [sys.BPF_TCX_INGRESS, sys.BPF_TCX_EGRESS])
      links.push(sys.linkCreate(theirs.fd, ifindex, type, 0));
    using _a = TcAttachment.open(ok.fd, ifindex, 'tcx');
    await knock(3);
    assert.deepEqual(
      [ok.seen(), theirs.seen()],
      [
        [3, 3],
        [0, 0],
      ],
    );
  } finally {
    for (const l of links) sys.close(l);
    ok.close();
    theirs.close();
  }
});

test('clsact beside a filter added with tc: both see every segment; closing ours keeps their filter and the qdisc', async () => {
  await must(['tc', 'qdisc', 'add', 'dev', dev, 'clsact']);
  try {
    for (const d of ['ingress', 'egress']) {
      await must([
        'tc',
        'filter',
        'add',
        'dev',
        dev,
        d,
        'pref',
        '7',
        'handle',
        '0x7',
        'bpf',
        'da',
        'obj',
        PROBE,
        'sec',
        'tc',
      ]);
    }
    const ours = probe();
    try {
      using a = TcAttachment.open(ours.fd, ifindex, 'clsact');
      const s = await tcState();
      assert.deepEqual(
        [s.ingress, s.egress],
        [
          [OURS, 'pref 7 bpf handle 0x7'],
          [OURS, 'pref 7 bpf handle 0x7'],
        ],
      );
      await knock(4);
      assert.deepEqual(ours.seen(), [4, 4]);
      a.close();
      const after = await tcState();
      assert.deepEqual(
        [after.ingress, after.egress, after.clsact],
        [['pref 7 bpf handle 0x7'], ['pref 7 bpf handle 0x7'], true],
      );
      // their programs (tc loaded the object once per direction: a map each) still run
      const theirSeen = async () => {
        const seen: number[] = [];
        for (const [egress, d] of ['ingress', 'egress'].entries()) {
          const filters = JSON.parse(await must(['tc', '-j', 'filter', 'show', 'dev', dev, d])) as {
            options?: { prog?: { id: number } };
          }[];
          const id = filters.find((f) => f.options?.prog)!.options!.prog!.id;
          const prog = JSON.parse(await must(['bpftool', '-j', 'prog', 'show', 'id', String(id)])) as {
            map_ids: number[];
          };
          const dump = JSON.parse(
            await must(['bpftool', '-j', 'map', 'dump', 'id', String(prog.map_ids[0])]),
          ) as { formatted: { key: { ifindex: number; egress: number }; value: number } }[];
          const entry = dump.find(
            (x) => x.formatted.key.ifindex === ifindex && x.formatted.key.egress === egress,
          );
          seen.push(entry?.formatted.value ?? 0);
        }
        return seen;
      };
      assert.deepEqual(await theirSeen(), [4, 4]);
      await knock(3);
      assert.deepEqual(await theirSeen(), [7, 7]);
      assert.deepEqual(ours.seen(), [4, 4]);
    } finally {
      ours.close();
    }
  } finally {
    await must(['tc', 'qdisc', 'del', 'dev', dev, 'clsact']);
  }
});

test('clsact: a second attachment with our priority and handle is refused and names the cause; the first stays', async () => {
  const p = probe();
  try {
    using _a = TcAttachment.open(p.fd, ifindex, 'clsact');
    assert.throws(
      () => TcAttachment.open(p.fd, ifindex, 'clsact'),
      (e: unknown) => {
        assert.ok(e instanceof BpfError);
        assert.equal(
          e.message,
          `attach ifindex ${ifindex}: clsact filter ingress: EEXIST (a filter with priority 1 and handle 0x6f776c is there already (another owlk8s agent?))`,
        );
        return true;
      },
    );
    const s = await tcState();
    assert.deepEqual([s.ingress, s.egress], [[OURS], [OURS]]);
  } finally {
    p.close();
  }
  const s = await tcState();
  assert.deepEqual([s.ingress, s.egress, s.clsact], [[], [], false]);
});

test('errors name the interface and the cause; a failed attach leaves nothing', async () => {
  const p = probe();
  try {
    for (const mechanism of [...MECHANISMS, undefined]) {
      assert.throws(
        () => TcAttachment.open(p.fd, 999999, mechanism),
        (e: unknown) =>
          e instanceof BpfError && e.errno === 19 && /\(no interface with this index\)$/.test(e.message),
      );
    }
    assert.throws(() => TcAttachment.open(p.fd, 0), /interface index 0 is not a positive integer/);
  } finally {
    p.close();
  }
  // a TCX refusal (EINVAL, as a kernel before 6.6 answers) falls back to clsact; here the refusal
  // comes from a socket filter, which clsact refuses as well, and the error tells both
  using empty = LoadedObject.load(EMPTY, ['owlk8s_empty']);
  assert.throws(
    () => TcAttachment.open(empty.programFd('owlk8s_empty'), ifindex),
    (e: unknown) =>
      e instanceof BpfError &&
      e.message ===
        `attach ifindex ${ifindex}: TCX refused (EINVAL), then clsact: clsact filter ingress: EINVAL`,
  );
  const s = await tcState();
  assert.deepEqual([s.ingress, s.egress, s.clsact], [[], [], false]);
});

test('by default TCX is used on this kernel (6.6+)', () => {
  const p = probe();
  try {
    using a = TcAttachment.open(p.fd, ifindex);
    assert.equal(a.mechanism, 'tcx');
  } finally {
    p.close();
  }
});

// The kernel asks for CAP_NET_ADMIN when a TC program is loaded, and again to change a qdisc or
// filter over netlink (clsact); a TCX link of a program already loaded needs no more.
test('without CAP_NET_ADMIN (nor CAP_SYS_ADMIN) loading a TC program, and attaching with clsact, say CAP_NET_ADMIN', () => {
  const drop = ['--bounding-set=-net_admin,-sys_admin'];
  const load =
    `import { LoadedObject } from ${JSON.stringify(TC_INDEX)};` +
    `try { LoadedObject.load(${JSON.stringify(PROBE)}, ['owlk8s_tc_probe']); console.log('loaded'); }` +
    ' catch (e) { console.log(e.message); }';
  assert.equal(
    withoutCaps(drop, load),
    `${PROBE}: load: EPERM (needs CAP_BPF and CAP_NET_ADMIN (a TC program): run as root or grant both)`,
  );
  // the program loaded here, handed over as descriptor 3 to a process without CAP_NET_ADMIN
  const p = probe();
  try {
    for (const mechanism of MECHANISMS) {
      const attach =
        `import { TcAttachment } from ${JSON.stringify(TC_INDEX)};` +
        `try { TcAttachment.open(3, ${ifindex}, '${mechanism}').close(); console.log('attached'); }` +
        ' catch (e) { console.log(e.message); }';
      assert.equal(
        withoutCaps(drop, attach, p.fd),
        mechanism === 'tcx'
          ? 'attached'
          : `attach ifindex ${ifindex}: add clsact qdisc: EPERM (needs CAP_NET_ADMIN: run as root or grant CAP_NET_ADMIN)`,
      );
    }
  } finally {
    p.close();
  }
});

/** Runs a module script with capabilities dropped from the bounding set; fd, if given, is its descriptor 3. */
function withoutCaps(setpriv: readonly string[], script: string, fd?: number): string {
  const r = spawnSync('setpriv', [...setpriv, process.execPath, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    stdio: fd === undefined ? 'pipe' : ['pipe', 'pipe', 'pipe', fd],
  });
  if (r.error) throw new Error(`setpriv (util-linux) is needed for this test: ${r.error.message}`);
  return (r.stdout + r.stderr).trim();
}

// The capture program in tc mode, first in the chain, beside a CNI's program after it: the CNI's
// program must see every packet (ours must pass each one on with TC_ACT_UNSPEC, not end the chain
// with TC_ACT_OK), and ours counts the same requests.
test('tc mode: a TCX program attached after the capture program still sees every segment', async () => {
  const theirs = probe();
  const links: number[] = [];
  try {
    using cap = Capture.load({ attach: 'tc' });
    cap.setTarget(web.ipv4, ifindex, 1);
    cap.attach(ifindex);
    for (const type of [sys.BPF_TCX_INGRESS, sys.BPF_TCX_EGRESS])
      links.push(sys.linkCreate(theirs.fd, ifindex, type, 0));
    await knock(5);
    assert.deepEqual(theirs.seen(), [5, 5]);
  } finally {
    for (const l of links) sys.close(l);
    theirs.close();
  }
});

/** Starts a process that attaches the probe with `mechanism` and waits; resolves with it and the program id once attached. */
async function attachedChild(mechanism: TcMechanism): Promise<{ child: ChildProcess; id: number }> {
  const script =
    `import { LoadedObject, TcAttachment, programStats } from ${JSON.stringify(TC_INDEX)};` +
    `const o = LoadedObject.load(${JSON.stringify(PROBE)}, ['owlk8s_tc_probe']);` +
    `const fd = o.programFd('owlk8s_tc_probe'); TcAttachment.open(fd, ${ifindex}, '${mechanism}');` +
    'console.log(programStats(fd).id); setInterval(() => {}, 1000);';
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const id = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`the attaching process exited with ${code}`)));
  });
  return { child, id };
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test('tcx: a killed process leaves nothing in the datapath (its links go with its descriptors)', async () => {
  const { child, id } = await attachedChild('tcx');
  assert.deepEqual(
    (await tcState()).links.filter((l) => l === id),
    [id, id],
  );
  await knock(2);
  await killed(child);
  await sleep(200); // the links and the program are freed after the process's descriptors close
  const s = await tcState();
  assert.deepEqual([s.ingress, s.egress, s.clsact, s.links.filter((l) => l === id)], [[], [], false, []]);
});

test('clsact: a killed process leaves its two filters, which the next attach refuses to overwrite', async () => {
  const { child } = await attachedChild('clsact');
  await killed(child);
  try {
    const s = await tcState();
    assert.deepEqual([s.ingress, s.egress, s.clsact], [[OURS], [OURS], true]);
    const p = probe();
    try {
      assert.throws(() => TcAttachment.open(p.fd, ifindex, 'clsact'), /clsact filter ingress: EEXIST/);
    } finally {
      p.close();
    }
  } finally {
    await must(['tc', 'qdisc', 'del', 'dev', dev, 'clsact']);
  }
});

test('clsact: a qdisc we added is kept when someone added a filter to it after us', async () => {
  const p = probe();
  try {
    const a = TcAttachment.open(p.fd, ifindex, 'clsact');
    await must([
      'tc',
      'filter',
      'add',
      'dev',
      dev,
      'egress',
      'pref',
      '9',
      'handle',
      '0x9',
      'bpf',
      'da',
      'obj',
      PROBE,
      'sec',
      'tc',
    ]);
    a.close();
    const s = await tcState();
    assert.deepEqual([s.ingress, s.egress, s.clsact], [[], ['pref 9 bpf handle 0x9'], true]);
  } finally {
    p.close();
    await must(['tc', 'qdisc', 'del', 'dev', dev, 'clsact']);
  }
});
