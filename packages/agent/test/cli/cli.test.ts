// The command line, in-process for what it prints and as a real process for exit codes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LibraryMissingError } from '@owlk8s/ebpf';
import { parse } from 'yaml';
import { AgentError } from '../../src/agent-error.ts';
import { main } from '../../src/cli/cli.ts';
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_UNSUPPORTED,
  EXIT_USAGE,
  exitCodeFor,
} from '../../src/cli/exit-codes.ts';
import { MAIN_HELP } from '../../src/cli/help.ts';
import { UsageError } from '../../src/cli/io.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { captureIo } from './capture-io.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const PKG = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env });
}

describe('owlk8s as a process', () => {
  it('--help prints the commands and exits 0; no command prints them and exits 2', () => {
    const help = cli(['--help']);
    assert.equal(help.status, EXIT_OK);
    assert.equal(help.stdout, MAIN_HELP);
    for (const cmd of ['run --config FILE', 'targets [--url URL]', 'config validate FILE']) {
      assert.ok(help.stdout.includes(cmd), cmd);
    }
    const none = cli([]);
    assert.equal(none.status, EXIT_USAGE);
    assert.equal(none.stdout, MAIN_HELP);
  });

  it('--version prints the package version', () => {
    const r = cli(['--version']);
    assert.equal(r.status, EXIT_OK);
    assert.equal(r.stdout, `${PKG.version}\n`);
    assert.equal(cli(['-v']).stdout, `${PKG.version}\n`);
  });

  it('is the package bin, with a shebang', () => {
    assert.deepEqual(PKG.bin, { owlk8s: './src/cli/main.ts' });
    assert.ok(readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node\n'));
  });

  it('run: with no cluster to reach (not in a pod, no kubeconfig) exits 2 with the reason, before loading the program', () => {
    const r = cli(['run'], { OWLK8S_NODE_NAME: 'node-1', OWLK8S_LOGGING_FORMAT: 'json' });
    assert.equal(r.status, EXIT_USAGE);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    const log = JSON.parse(lines[0] as string) as { level: string; msg: string; name: string };
    assert.equal(log.level, 'fatal');
    assert.equal(log.name, 'owlk8s');
    assert.equal(
      log.msg,
      'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?); configure a kubeconfig path instead',
    );
  });

  // Regression: runCommand logged the notices and runAgent logged them again.
  it('run: logs each notice once, as a warning, before the reason it stops', () => {
    const r = cli(['run'], {
      OWLK8S_NODE_NAME: 'node-1',
      OWLK8S_LOGGING_FORMAT: 'json',
      OTEL_SDK_DISABLED: 'true',
      cleanBPFMap: 'true',
    });
    assert.equal(r.status, EXIT_USAGE);
    const logs = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string });
    assert.deepEqual(
      logs.map((l) => [l.level, l.msg]),
      [
        [
          'warn',
          'cleanBPFMap is obsolete and ignored: the kernel forgets a connection when it ends (FIN or RST) or idles for capture.idleTimeoutMs, so its map never needs cleaning',
        ],
        ['warn', 'OTEL_SDK_DISABLED is true: no metrics are exported'],
        [
          'fatal',
          'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?); configure a kubeconfig path instead',
        ],
      ],
    );
  });

  it('run: an invalid configuration exits 2 before anything starts', () => {
    const r = cli(['run', '--config', '/nonexistent/owlk8s.yaml'], { OWLK8S_NODE_NAME: 'node-1' });
    assert.equal(r.status, EXIT_USAGE);
    assert.equal(
      r.stderr,
      'invalid configuration: /nonexistent/owlk8s.yaml: cannot be read (no such file); allowed: a readable YAML file\n',
    );
  });

  it('unknown commands and options exit 2 and say what exists', () => {
    const bogus = cli(['bogus']);
    assert.equal(bogus.status, EXIT_USAGE);
    assert.equal(
      bogus.stderr,
      'owlk8s unknown command "bogus"; commands: run, targets, config, help (see owlk8s --help)\n',
    );
    const opt = cli(['targets', '--frob']);
    assert.equal(opt.status, EXIT_USAGE);
    assert.equal(opt.stderr, "owlk8s targets: Unknown option '--frob'\n");
  });
});

describe('owlk8s in-process', () => {
  it('help COMMAND prints that command’s help', async () => {
    const io = captureIo();
    assert.equal(await main(['help', 'targets'], io), EXIT_OK);
    assert.ok(io.out().startsWith('Usage: owlk8s targets [--url URL | --config FILE] [--graph] [--json]\n'));
    const io2 = captureIo();
    assert.equal(await main(['config', '--help'], io2), EXIT_OK);
    assert.ok(io2.out().startsWith('Usage: owlk8s config validate FILE [--ignore-env]\n'));
  });

  it('config validate prints "FILE: valid" and the notices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'owlk8s-cli-'));
    try {
      const file = join(dir, 'owlk8s.yaml');
      writeFileSync(file, 'export:\n  prometheus:\n    port: 9100\n');
      const io = captureIo({ cleanBPFMap: 'true' });
      assert.equal(await main(['config', 'validate', file], io), EXIT_OK);
      assert.equal(io.out(), `${file}: valid\n`);
      assert.equal(
        io.err(),
        'note: cleanBPFMap is obsolete and ignored: the kernel forgets a connection when it ends (FIN or RST) or idles for capture.idleTimeoutMs, so its map never needs cleaning\n' +
          'note: node.name is empty: the agent needs it at start with targets.source "kubernetes" (set node.name, OWLK8S_NODE_NAME (the DaemonSet sets it from spec.nodeName) or the seed’s nodename)\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config validate checks the configuration inside a ConfigMap manifest, with the manifest’s lines', async () => {
    const manifest = new URL('../../../../deploy/configmap.yaml', import.meta.url).pathname;
    const io = captureIo({ OWLK8S_NODE_NAME: 'node-1' });
    assert.equal(await main(['config', 'validate', manifest], io), EXIT_OK);
    assert.equal(io.out(), `${manifest} (data.owlk8s.yaml): valid\n`);
    assert.equal(io.err(), '');
    const dir = mkdtempSync(join(tmpdir(), 'owlk8s-cm-'));
    try {
      const bad = join(dir, 'cm.yaml');
      writeFileSync(
        bad,
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owlk8s\ndata:\n  owlk8s.yaml: |\n    admin:\n      port: 99999\n',
      );
      const badIo = captureIo();
      assert.equal(await main(['config', 'validate', bad], badIo), EXIT_USAGE);
      assert.equal(
        badIo.err(),
        `invalid configuration: ${bad}:8: admin.port: got 99999; allowed: an integer from 1 to 65535\n`,
      );
      const empty = join(dir, 'empty.yaml');
      writeFileSync(empty, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  other: x\n');
      const emptyIo = captureIo();
      assert.equal(await main(['config', 'validate', empty], emptyIo), EXIT_USAGE);
      assert.equal(
        emptyIo.err(),
        `invalid configuration: ${empty}: data: no entry named *.yaml; allowed: a ConfigMap whose data holds the configuration under a key such as owlk8s.yaml\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config print shows the effective configuration with secrets redacted', async () => {
    const io = captureIo({
      OWLK8S_NODE_NAME: 'node-1',
      OWLK8S_EXPORT_OTLP_ENDPOINT: 'https://api.honeycomb.io',
      OWLK8S_EXPORT_OTLP_HEADERS: 'x-honeycomb-team=hcaik_s3cr3t',
    });
    assert.equal(await main(['config', 'print'], io), EXIT_OK);
    assert.doesNotMatch(io.out(), /s3cr3t/);
    const printed = parse(io.out()) as {
      node: { name: string };
      export: { otlp: { headers: unknown; endpoint: string } };
    };
    assert.equal(printed.node.name, 'node-1');
    assert.equal(printed.export.otlp.endpoint, 'https://api.honeycomb.io');
    assert.deepEqual(printed.export.otlp.headers, { 'x-honeycomb-team': '[redacted]' });
    const json = captureIo({ OWLK8S_EXPORT_OTLP_HEADERS: 'a=b' });
    assert.equal(await main(['config', 'print', '--json', '--ignore-env'], json), EXIT_OK);
    assert.deepEqual(
      (JSON.parse(json.out()) as { export: { otlp: { headers: unknown } } }).export.otlp.headers,
      {},
    );
    assert.equal(
      json.err(),
      'note: node.name is empty: the agent needs it at start with targets.source "kubernetes" (set node.name, OWLK8S_NODE_NAME (the DaemonSet sets it from spec.nodeName) or the seed’s nodename)\n',
    );
  });

  it('config without an action, or with a file given twice, is a usage error', async () => {
    const io = captureIo();
    assert.equal(await main(['config'], io), EXIT_USAGE);
    assert.equal(
      io.err(),
      'owlk8s config: which action? Use "config validate FILE" or "config print [FILE]"\n',
    );
    const twice = captureIo();
    assert.equal(await main(['config', 'validate', 'a.yaml', '--config', 'b.yaml'], twice), EXIT_USAGE);
    assert.equal(twice.err(), 'owlk8s config: give the file once, as FILE or as --config FILE\n');
  });
});

describe('exitCodeFor', () => {
  it('maps errors, by their kind, to the documented codes', () => {
    assert.equal(exitCodeFor(new ConfigError([])), EXIT_USAGE);
    assert.equal(exitCodeFor(new UsageError('bad option')), EXIT_USAGE);
    assert.equal(exitCodeFor(new AgentError('config', 'x')), EXIT_USAGE);
    assert.equal(exitCodeFor(new AgentError('privileges', 'x')), EXIT_UNSUPPORTED);
    assert.equal(exitCodeFor(new AgentError('kernel', 'x')), EXIT_UNSUPPORTED);
    assert.equal(exitCodeFor(new AgentError('runtime', 'x')), EXIT_FAILURE);
    assert.equal(exitCodeFor(Object.assign(new Error('x'), { code: 'EPERM' })), EXIT_UNSUPPORTED);
    assert.equal(exitCodeFor(Object.assign(new Error('x'), { code: 'EACCES' })), EXIT_UNSUPPORTED);
    assert.equal(exitCodeFor(new LibraryMissingError('libbpf.so.1', 'libbpf1', undefined)), EXIT_UNSUPPORTED);
    assert.equal(exitCodeFor(new Error('boom')), EXIT_FAILURE);
    assert.equal(exitCodeFor('a string'), EXIT_FAILURE);
  });

  it('is the only door from errors to exit codes: no module outside cli/ imports exit-codes.ts but the configuration reference', () => {
    const src = new URL('../../src/', import.meta.url).pathname;
    const importers = globSync('**/*.ts', { cwd: src })
      .filter((f) => !f.startsWith('cli/'))
      .filter((f) => /from '[./]*\/?cli\/exit-codes\.ts'/.test(readFileSync(join(src, f), 'utf8')))
      .sort();
    // docs.ts prints the table of codes into docs/configuration.md.
    assert.deepEqual(importers, ['config/docs.ts']);
  });
});
