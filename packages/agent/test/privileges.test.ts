import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BpfError } from '@owlk8s/ebpf';
import { AgentError } from '../src/agent-error.ts';
import { EXIT_UNSUPPORTED, exitCodeFor } from '../src/cli/exit-codes.ts';
import { checkCapabilities, effectiveCapabilities, missingCapabilities } from '../src/privileges.ts';

const bit = (n: number) => 1n << BigInt(n);
const [NET_ADMIN, NET_RAW, SYS_ADMIN, PERFMON, BPF] = [bit(12), bit(13), bit(21), bit(38), bit(39)];

describe('capabilities', () => {
  test('reads CapEff from /proc/self/status text', () => {
    assert.equal(effectiveCapabilities('Name:\tx\nCapEff:\t0000008000002000\nCapBnd:\t0\n'), BPF | NET_RAW);
    assert.throws(() => effectiveCapabilities('Name:\tx\n'), /no CapEff line/);
  });

  test('names each missing capability; CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON', () => {
    assert.deepEqual(missingCapabilities(BPF | PERFMON | NET_RAW), []);
    assert.deepEqual(missingCapabilities(SYS_ADMIN | NET_RAW), []);
    assert.deepEqual(missingCapabilities(BPF | NET_RAW), ['CAP_PERFMON']);
    assert.deepEqual(missingCapabilities(PERFMON | NET_RAW), ['CAP_BPF']);
    assert.deepEqual(missingCapabilities(BPF | PERFMON), ['CAP_NET_RAW']);
    assert.deepEqual(missingCapabilities(0n), ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_RAW']);
  });

  test('attach tc needs CAP_NET_ADMIN (CAP_SYS_ADMIN stands in for it) and not CAP_NET_RAW', () => {
    assert.deepEqual(missingCapabilities(BPF | PERFMON | NET_ADMIN, 'tc'), []);
    assert.deepEqual(missingCapabilities(SYS_ADMIN, 'tc'), []);
    assert.deepEqual(missingCapabilities(BPF | PERFMON | NET_RAW, 'tc'), ['CAP_NET_ADMIN']);
    assert.deepEqual(missingCapabilities(BPF | PERFMON | NET_ADMIN, 'socket'), ['CAP_NET_RAW']);
    assert.throws(
      () => checkCapabilities('tc', BPF | PERFMON | NET_RAW),
      (e: unknown) =>
        e instanceof AgentError &&
        e.kind === 'privileges' &&
        e.message ===
          'missing capability CAP_NET_ADMIN: the agent needs CAP_NET_ADMIN (to load the TC program and attach it to the interfaces (capture.attach is tc)); run as root or grant CAP_NET_ADMIN',
    );
  });

  test('a missing capability is a privileges error (exit code 3) that says what it is for', () => {
    const err = (() => {
      try {
        checkCapabilities('socket', BPF | PERFMON);
      } catch (e) {
        return e as Error;
      }
      return assert.fail('no error');
    })();
    assert.equal(
      err.message,
      'missing capability CAP_NET_RAW: the agent needs CAP_NET_RAW (to open the packet sockets the filter is attached to); run as root or grant CAP_NET_RAW',
    );
    assert.ok(err instanceof AgentError);
    assert.equal(err.kind, 'privileges');
    assert.equal(exitCodeFor(err), EXIT_UNSUPPORTED);
    assert.doesNotThrow(() => checkCapabilities('socket', BPF | PERFMON | NET_RAW));
  });

  test("the capture engine's EPERM and EACCES (numeric errno) exit 3", () => {
    const bpfError = (errno: number) => new BpfError('load', errno);
    assert.equal(exitCodeFor(bpfError(1)), EXIT_UNSUPPORTED);
    assert.equal(exitCodeFor(bpfError(13)), EXIT_UNSUPPORTED);
    assert.equal(exitCodeFor(bpfError(22)), 1);
  });
});
