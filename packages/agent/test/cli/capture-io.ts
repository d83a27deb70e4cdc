// An in-memory CliIo for running commands in-process.
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/io.ts';

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

export function captureIo(env: NodeJS.ProcessEnv = {}): CapturedIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  return { stdout, stderr, env, out: () => out, err: () => err };
}
