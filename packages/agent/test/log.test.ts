// The logger: JSON lines by default, pretty lines for people, the level from the configuration
// (and the seed's debug), export headers never written.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { loadConfig } from '../src/config/load.ts';
import { createLogger, loggerFromConfig, resolveFormat } from '../src/log.ts';
import { captureIo } from './cli/capture-io.ts';

it('writes one JSON object per line with a level name, dropping levels below the configured one', () => {
  const io = captureIo();
  const log = createLogger({ level: 'info', format: 'json', destination: io.stderr });
  log.debug('not written');
  log.info({ pods: 3 }, 'first sync done');
  const lines = io.err().trim().split('\n');
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.equal(entry.level, 'info');
  assert.equal(entry.msg, 'first sync done');
  assert.equal(entry.pods, 3);
  assert.equal(entry.name, 'owlk8s');
  assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

it('never writes the values of export headers', () => {
  const io = captureIo();
  const log = createLogger({ level: 'info', format: 'json', destination: io.stderr });
  log.warn({ exporter: { headers: { 'dd-api-key': 's3cr3t' } } }, 'export failed');
  assert.doesNotMatch(io.err(), /s3cr3t/);
  const entry = JSON.parse(io.err()) as { exporter: { headers: Record<string, string> } };
  assert.deepEqual(entry.exporter.headers, { 'dd-api-key': '[redacted]' });
});

it('writes readable lines in the pretty format', async () => {
  const io = captureIo();
  const log = createLogger({ level: 'info', format: 'pretty', destination: io.stderr });
  log.info({ pod: 'web-1' }, 'attached');
  await tick();
  const text = io.err();
  assert.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: attached\n {4}pod: "web-1"\n$/);
});

it('chooses pretty for a terminal and JSON otherwise when the format is auto', () => {
  assert.equal(resolveFormat('auto', true), 'pretty');
  assert.equal(resolveFormat('auto', false), 'json');
  assert.equal(resolveFormat('auto', undefined), 'json');
  assert.equal(resolveFormat('json', true), 'json');
});

it('takes its level from the configuration, debug from the seed’s debug=true', () => {
  const { config } = loadConfig({ env: { OWLK8S_NODE_NAME: 'n', debug: 'true' } });
  const io = captureIo();
  const log = loggerFromConfig(config, io.stderr);
  log.debug('visible');
  log.trace('hidden');
  assert.deepEqual(
    io
      .err()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: string }).msg),
    ['visible'],
  );
});
