// `npm run demo` runs test/demo/main.ts (scripts/run.sh demo): its options, checked before
// anything is built; the demo itself is demo.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEMO_HELP, demoOptions } from '../main.ts';

const MAIN = new URL('../main.ts', import.meta.url).pathname;
const demo = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

describe('the demo entry point', () => {
  it('is what `npm run demo` runs', () => {
    const runSh = readFileSync(new URL('../../../scripts/run.sh', import.meta.url), 'utf8');
    assert.match(runSh, /exec "\$NODE24" test\/demo\/main\.ts "\$@"/);
  });

  it('--duration takes seconds greater than 0', () => {
    assert.deepEqual(demoOptions(['--duration', '8']), { help: false, durationSeconds: 8 });
    assert.deepEqual(demoOptions(['-d', '0.5']), { help: false, durationSeconds: 0.5 });
    assert.deepEqual(demoOptions([]), { help: false, durationSeconds: undefined });
    assert.deepEqual(demoOptions(['--help']), { help: true, durationSeconds: undefined });
  });

  it('a bad option exits 2 naming it and what is allowed, before building anything', () => {
    const dur = demo(['--duration', 'soon']);
    assert.equal(dur.status, 2);
    assert.equal(
      dur.stderr,
      'owlk8s demo: --duration "soon": a number of seconds greater than 0, e.g. 30 (see --help)\n',
    );
    assert.equal(dur.stdout, '');
    const zero = demo(['--duration', '0']);
    assert.equal(zero.status, 2);
    const opt = demo(['--frob']);
    assert.equal(opt.status, 2);
    assert.equal(opt.stderr, "owlk8s demo: Unknown option '--frob' (see --help)\n");
  });

  it('--help prints the usage and exits 0', () => {
    const help = demo(['--help']);
    assert.equal(help.status, 0);
    assert.equal(help.stdout, DEMO_HELP);
  });
});
