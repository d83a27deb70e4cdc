// The agent as the image runs it: the checkout's packages compiled to JavaScript by
// `deploy/rootfs.sh js` (the step `deploy/rootfs.sh app` runs for the image), started with the
// node flags of deploy/Dockerfile's ENTRYPOINT. The size benchmark measures this, so its figure is
// the shipped agent's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerfileRuntime, ROOTFS_SH } from '../../test/e2e/image.ts';

export interface ImageAgent extends Disposable {
  /** Node's arguments before the agent's (`run ...`): the ENTRYPOINT's flags and the compiled CLI. */
  readonly argv: readonly string[];
}

/** Compiles the agent (about 15 s: TypeScript's npm tarball, checked against the lockfile). */
export function imageAgent(): ImageAgent {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-js-'));
  try {
    execFileSync(ROOTFS_SH, ['js', join(dir, 'app')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`deploy/rootfs.sh js: ${(err as { stderr?: Buffer }).stderr ?? err}`);
  }
  const { entrypoint } = dockerfileRuntime();
  const [node, ...rest] = entrypoint;
  const cli = rest.at(-1);
  if (node !== 'node' || cli === undefined || !cli.startsWith('/app/'))
    throw new Error(
      `deploy/Dockerfile: ENTRYPOINT ${JSON.stringify(entrypoint)} is not ["node", FLAGS..., "/app/..."]`,
    );
  return {
    argv: [...rest.slice(0, -1), join(dir, cli)],
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}
