// The agent as the image runs it: the checkout's agent bundled by `deploy/rootfs.sh js` (the step
// `deploy/rootfs.sh app` runs for the image), started with the node flags of deploy/Dockerfile's
// ENTRYPOINT and the environment of its ENV lines, and connected as the DaemonSet connects: in
// cluster, with a service account's token and CA (inClusterSpawn). The size benchmark measures
// this, so its figure is the shipped agent's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerfileRuntime, ROOTFS_SH, testCertificates } from '../../test/e2e/image.ts';
import { FakeKubeApi } from '../../test/k8s-api/index.ts';

export interface ImageAgent extends Disposable {
  /** Node's arguments before the agent's (`run ...`): the ENTRYPOINT's flags and the bundled CLI. */
  readonly argv: readonly string[];
  /** The Dockerfile's ENV (NODE_ENV, MALLOC_ARENA_MAX, ...), for the agent's environment. */
  readonly env: Readonly<Record<string, string>>;
}

/** Bundles the agent (a few seconds: the lockfile's esbuild). */
export function imageAgent(): ImageAgent {
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-js-'));
  try {
    execFileSync(ROOTFS_SH, ['js', join(dir, 'app')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`deploy/rootfs.sh js: ${(err as { stderr?: Buffer }).stderr ?? err}`);
  }
  const { entrypoint, env } = dockerfileRuntime();
  const [node, ...rest] = entrypoint;
  const cli = rest.at(-1);
  if (node !== 'node' || cli === undefined || !cli.startsWith('/app/'))
    throw new Error(
      `deploy/Dockerfile: ENTRYPOINT ${JSON.stringify(entrypoint)} is not ["node", FLAGS..., "/app/..."]`,
    );
  return {
    argv: [...rest.slice(0, -1), join(dir, cli)],
    env,
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A test API server over HTTPS, and what the kubelet gives a pod to reach it. */
export interface InClusterApi extends AsyncDisposable {
  readonly api: FakeKubeApi;
  /** The service account's files (token, ca.crt, namespace) in a directory of their own. */
  readonly serviceAccountDir: string;
  /** KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT. */
  readonly env: Readonly<Record<string, string>>;
}

export async function inClusterApi(opts: { bookmarkIntervalMs?: number } = {}): Promise<InClusterApi> {
  const tls = testCertificates();
  const api = await FakeKubeApi.start({ ...opts, tls: { cert: tls.cert, key: tls.key } });
  const serviceAccountDir = mkdtempSync(join(tmpdir(), 'owlk8s-bench-sa-'));
  writeFileSync(join(serviceAccountDir, 'token'), api.token);
  writeFileSync(join(serviceAccountDir, 'ca.crt'), tls.ca);
  writeFileSync(join(serviceAccountDir, 'namespace'), 'owlk8s');
  return {
    api,
    serviceAccountDir,
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
    [Symbol.asyncDispose]: async () => {
      await api.close();
      rmSync(serviceAccountDir, { recursive: true, force: true });
    },
  };
}

// In a mount namespace of its own (nothing leaks to the machine): a tmpfs on /run (/var/run links
// to it on Debian) holding only the service account's directory, where Kubernetes mounts it; then
// the command, by exec, so the process measured is the agent itself.
const IN_CLUSTER = `set -eu
sa=$1
shift
mount -t tmpfs -o mode=755,size=1m tmpfs /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
mount --bind -o ro "$sa" /run/secrets/kubernetes.io/serviceaccount
exec "$@"
`;

/** The command and arguments that run `node ARGS...` as a pod with that service account would. */
export function inClusterSpawn(serviceAccountDir: string, nodeArgs: readonly string[]): [string, string[]] {
  return [
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      IN_CLUSTER,
      'sh',
      serviceAccountDir,
      process.execPath,
      ...nodeArgs,
    ],
  ];
}
