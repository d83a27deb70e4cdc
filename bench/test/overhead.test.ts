import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { type Run, report, type Variant } from '../lib/overhead.ts';
import { suiteSection } from '../lib/suite-section.ts';

const run = (round: number, variant: Variant, cpu: number, p99: number): Run => ({
  round,
  variant,
  requests: 100_000,
  rps: 25_000,
  p99Ms: p99,
  busyS: cpu / 10,
  cpuUsPerRequest: cpu,
  agentCpuUsPerRequest: variant === 'none' ? 0 : 0.1,
  busyBefore: round === 0 ? 0.5 : 0.01,
});

test('overhead report: ratios within each round, medians with their interval, three-way verdicts', () => {
  // Round r: no agent 20 + r µs; socket exactly 1.05× it, tc 1.01× it; p99 1.00× and 1.10×.
  const runs: Run[] = [];
  for (let r = 0; r < 6; r++) {
    const none = 20 + r;
    runs.push(run(r, 'tc', none * 1.01, 3 * 1.1), run(r, 'none', none, 3), run(r, 'socket', none * 1.05, 3));
  }
  const result = report(runs, 6, 4, { connections: 32, threads: 2 });
  assert.deepEqual(
    result.goals?.map((g) => [g.measured, g.met, g.verdict]),
    [
      ['1.050× [95 % CI 1.050–1.050]', false, '**not met**'],
      ['1.010× [95 % CI 1.010–1.010]', true, 'met'],
      ['1.000× [95 % CI 1.000–1.000]', true, 'met'],
      ['1.100× [95 % CI 1.100–1.100]', false, '**not met**'],
    ],
  );
  assert.match(
    result.markdown,
    /\| CPU per request \| 1\.050 \[1\.050, 1\.050\] \| ±0\.0 % \| 1\.010 \[1\.010, 1\.010\] \| ±0\.0 % \|/,
  );
  assert.match(result.markdown, /CPU per request, tc ÷ socket within each round: 0\.962 \[0\.962, 0\.962\]/);
  assert.match(result.markdown, /^6 rounds; in each, three runs in rotating order/);
  assert.match(
    result.markdown,
    /The machine was 1\.0 % busy \(median; 1\.0–50\.0 %\) in the half\nsecond before each run/,
  );
  // The suite's table shows the verdict's own words.
  const summary = suiteSection(
    {
      started: '2026-12-05T16:00:00.000Z',
      finished: '2026-12-05T16:06:00.000Z',
      quick: false,
      machine: { cores: 2, cpu: 'x', kernel: 'k', memoryMiB: 1, node: 'v24' },
      loadAverage1m: { before: 0, after: 0 },
      failures: [],
    },
    [{ ...result, goals: [{ ...result.goals![0]!, verdict: '**unresolved**' }] }],
    [],
  );
  assert.match(
    summary,
    /\| overhead \| CPU per request with the agent \(attach socket\) ≤ 1\.02× without \| 1\.050× \[95 % CI 1\.050–1\.050\] \| \*\*unresolved\*\* \|/,
  );
});

test('overhead report with a baseline agent: its ratio over none, and each mode over it, round by round', () => {
  // Round r: no agent 20 + r µs; baseline 1.08× it; socket 1.10× (1.10 / 1.08 = 1.0185 over the
  // baseline), tc 1.07× (0.9907 over it).
  const runs: Run[] = [];
  for (let r = 0; r < 8; r++) {
    const none = 20 + r;
    runs.push(
      run(r, 'baseline', none * 1.08, 3),
      run(r, 'none', none, 3),
      run(r, 'socket', none * 1.1, 3),
      run(r, 'tc', none * 1.07, 3),
    );
  }
  const result = report(runs, 8, 4, { connections: 32, threads: 2 }, { cli: '/x', commit: 'b127df8' });
  assert.deepEqual(
    result.goals?.slice(4).map((g) => [g.goal, g.measured, g.met, g.verdict]),
    [
      [
        "CPU per request, attach socket ≤ the baseline agent's (b127df8)",
        '1.019× [95 % CI 1.019–1.019]',
        false,
        '**not met**',
      ],
      [
        "CPU per request, attach tc ≤ the baseline agent's (b127df8)",
        '0.991× [95 % CI 0.991–0.991]',
        true,
        'met',
      ],
    ],
  );
  assert.match(result.markdown, /^8 rounds; in each, four runs in rotating order/);
  assert.match(result.markdown, /the baseline agent \(the checkout at b127df8, its own defaults\)/);
  assert.match(result.markdown, /\| baseline agent \(b127df8\) ÷ no agent \| 1\.080 \[1\.080, 1\.080\] \|/);
  assert.match(
    result.markdown,
    /\| attach socket ÷ baseline agent \| 1\.019 \[1\.019, 1\.019\] \| ±0\.0 % \| \*\*not met\*\*/,
  );
  assert.match(
    result.markdown,
    /\| attach tc ÷ baseline agent \| 0\.991 \[0\.991, 0\.991\] \| ±0\.0 % \| \*\*met\*\*/,
  );
  assert.match(result.markdown, /\*\*met\*\* \(interval at or under 1\) \|\n\nThe machine was/);
  assert.match(result.markdown, /\| baseline agent \| 25\.38 \(/);
  // Without a baseline, none of it.
  const three = report(
    runs.filter((r) => r.variant !== 'baseline'),
    8,
    4,
    { connections: 32, threads: 2 },
  );
  assert.equal(three.goals?.length, 4);
  assert.doesNotMatch(three.markdown, /baseline/);
});

test('overhead report: rounds must pair up', () => {
  assert.throws(
    () => report([run(0, 'none', 20, 3), run(0, 'socket', 21, 3)], 1, 4, { connections: 32, threads: 2 }),
    /bootstrapMedianCi: no values|pairRatios/,
  );
});

test('bench/run.ts refuses overhead rounds and seconds that are not whole numbers in range, and a baseline that is not a set-up checkout', () => {
  const runTs = new URL('../run.ts', import.meta.url).pathname;
  const cases: [string[], string][] = [
    [['--overhead-rounds', '1'], '--overhead-rounds: got 1; allowed: a whole number of at least 2'],
    [['--overhead-seconds', '2.5'], '--overhead-seconds: got 2.5; allowed: a whole number of at least 1'],
    [['--overhead-seconds'], '--overhead-seconds: got nothing; allowed: a whole number of at least 1'],
    [
      ['--overhead-baseline', '/proc/self'],
      '--overhead-baseline: /proc/self has no packages/agent/src/cli/main.ts; allowed: a checkout of owlk8s set up with its scripts/setup.sh (git worktree add DIR COMMIT && bash DIR/scripts/setup.sh)',
    ],
  ];
  for (const [args, message] of cases) {
    // A benchmark name that does not exist after the flag: were the flag accepted, run.ts would stop
    // on it (with another message) instead of running the suite.
    const guard = args.length === 2 ? ['--only', 'none-such'] : [];
    const r = spawnSync(process.execPath, [runTs, ...args, ...guard], { encoding: 'utf8' });
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr.split('\n')[0], `bench: ${message}`);
  }
});
