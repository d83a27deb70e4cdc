// The agent's image without a container engine (none can run containers on these machines): its
// root filesystem built by deploy/rootfs.sh (the recipe deploy/Dockerfile runs), and the agent
// started in it the way the DaemonSet starts the container, with unshare, mount, chroot and capsh.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '@owlk8s/e2e/harness';
import { parseAllDocuments } from 'yaml';
import { parsePrometheusText, type Sample } from '../demo/prom-text.ts';

export { testCertificates } from '../k8s-api/certificates.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const ROOTFS_SH = join(REPO, 'deploy/rootfs.sh');
const DOCKERFILE = join(REPO, 'deploy/Dockerfile');

/** Where the Debian layer is cached between runs (OWLK8S_CACHE_DIR, default /var/cache/owlk8s). */
const CACHE_DIR = process.env.OWLK8S_CACHE_DIR || '/var/cache/owlk8s';
const WEEK_MS = 7 * 24 * 3600 * 1000;

/** The capabilities deploy/daemonset.yaml adds (after dropping ALL), as capsh names them. */
export function daemonSetCapabilities(): string[] {
  const c = daemonSetContainer();
  return (c.securityContext.capabilities.add as string[]).map((n) => `cap_${n.toLowerCase()}`).sort();
}

interface Container {
  args: string[];
  env: {
    name: string;
    valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { optional?: boolean } };
  }[];
  securityContext: { capabilities: { add: string[]; drop: string[] }; readOnlyRootFilesystem: boolean };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

export function daemonSetContainer(): Container {
  const doc = parseAllDocuments(readFileSync(join(REPO, 'deploy/daemonset.yaml'), 'utf8'))[0]?.toJS();
  return doc.spec.template.spec.containers[0] as Container;
}

/** The ConfigMap's owlk8s.yaml, as the DaemonSet mounts it. */
export function configMapYaml(): string {
  const doc = parseAllDocuments(readFileSync(join(REPO, 'deploy/configmap.yaml'), 'utf8'))[0]?.toJS();
  return doc.data['owlk8s.yaml'] as string;
}

/** The runtime stage's ENTRYPOINT and ENV lines from deploy/Dockerfile. */
export function dockerfileRuntime(): { entrypoint: string[]; env: Record<string, string>; workdir: string } {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(runtime)?.[1] ?? 'null') as string[];
  const env = Object.fromEntries([...runtime.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
  const workdir = /^WORKDIR (\S+)$/m.exec(runtime)?.[1] ?? '/';
  return { entrypoint, env: env as Record<string, string>, workdir };
}

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * The image's two layers: the Debian one (`rootfs.sh packages`: debootstrap and apt, slow, so
 * cached under the hash of rootfs.sh, which holds its whole recipe: the release and the package
 * list) and the agent's (`rootfs.sh app`: Node, the production dependencies, the agent's bundle,
 * BPF object, built afresh each time, so no change to the sources, the lockfile or the object can
 * hide behind a cache).
 */
export class ImageRoot {
  readonly base: string;
  readonly app: string;
  readonly #dir: string;
  readonly buildMs: { base: number; app: number };

  private constructor(base: string, dir: string, buildMs: { base: number; app: number }) {
    this.base = base;
    this.#dir = dir;
    this.app = join(dir, 'app');
    this.buildMs = buildMs;
  }

  static build(): ImageRoot {
    let t = Date.now();
    const key = sh(ROOTFS_SH, ['key']).trim();
    const base = join(CACHE_DIR, `rootfs-${key}`);
    if (!existsSync(base)) {
      mkdirSync(CACHE_DIR, { recursive: true });
      const building = `${base}.building-${process.pid}`;
      rmSync(building, { recursive: true, force: true });
      try {
        sh(ROOTFS_SH, ['packages', building]);
        renameSync(building, base);
      } catch (err) {
        rmSync(building, { recursive: true, force: true });
        // another run built the same layer meanwhile: use it
        if (!existsSync(base)) throw err;
      }
    }
    // Marks the layer used; layers of other versions of the script unused for a week go.
    const now = new Date();
    utimesSync(base, now, now);
    for (const old of readdirSync(CACHE_DIR)) {
      const path = join(CACHE_DIR, old);
      if (
        /^rootfs-[0-9a-f]{16}$/.test(old) &&
        path !== base &&
        now.getTime() - statSync(path).mtimeMs > WEEK_MS
      )
        rmSync(path, { recursive: true, force: true });
    }
    const baseMs = Date.now() - t;
    t = Date.now();
    const dir = mkdtempSync(join(tmpdir(), 'owlk8s-image-'));
    try {
      for (const d of ['app', 'work', 'merged']) mkdirSync(join(dir, d));
      // The agent's layer is the upper layer of an overlay on the Debian one: what `app` writes.
      sh(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-euc',
          'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4"; "$5" app "$4"',
          'sh',
          base,
          join(dir, 'app'),
          join(dir, 'work'),
          join(dir, 'merged'),
          ROOTFS_SH,
        ],
        // the Node tarball, kept by the lockfile's version and checked against its integrity each time
        { env: { ...process.env, NODE_TARBALLS: join(CACHE_DIR, 'npm') } },
      );
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new ImageRoot(base, dir, { base: baseMs, app: Date.now() - t });
  }

  /** A layer over the image deleting `path` (an overlay whiteout), to prove a dependency is needed. */
  without(path: string): string {
    const layer = mkdtempSync(join(this.#dir, 'without-'));
    const parent = join(layer, path.replace(/\/[^/]+$/, ''));
    mkdirSync(parent, { recursive: true });
    sh('mknod', [join(layer, path), 'c', '0', '0']);
    return layer;
  }

  dispose(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

export interface InImageOptions {
  readonly image: ImageRoot;
  /** Extra layers above the image's (e.g. from without()). */
  readonly layers?: readonly string[];
  /** The ConfigMap's data, mounted at /etc/owlk8s. */
  readonly config: Record<string, string>;
  /** The service account's files (token, ca.crt, namespace), mounted where Kubernetes mounts them. */
  readonly serviceAccount: Record<string, string>;
  /** Values of the DaemonSet's env that come from the downward API, by fieldPath. */
  readonly fieldRefs: Record<string, string>;
  /** What the kubelet adds: KUBERNETES_SERVICE_HOST/PORT, and overrides a test needs. */
  readonly env: Record<string, string>;
  readonly capabilities: readonly string[];
}

export interface InImageAgent {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr as they came. */
  log(): string;
  readonly exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

/** Every capability this kernel knows, by capsh's name. */
function allCapabilities(): string[] {
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return Array.from({ length: last + 1 }, (_, i) =>
    sh('capsh', [`--decode=${(1n << BigInt(i)).toString(16)}`])
      .trim()
      .replace(/^.*=/, ''),
  );
}

/** The CapEff line /proc/PID/status shows for exactly these capabilities. */
export function capabilityMask(caps: readonly string[]): string {
  const all = allCapabilities();
  return caps
    .reduce((m, c) => m | (1n << BigInt(all.indexOf(c))), 0n)
    .toString(16)
    .padStart(16, '0');
}

// Runs in a new mount namespace (unshare -m, private propagation: nothing leaks to the machine).
// Positional: $1 lower layers (colon-separated, top first), $2 upper, $3 work, $4 merged, $5 root,
// $6 config dir, $7 service-account dir, $8 capabilities to drop, $9 capabilities to keep; the
// command follows. As containerd does: an overlay of the layers with a writable upper in which
// the mount points are made; then, as readOnlyRootFilesystem does, the root read-only; then the
// kernel filesystems, /dev, the emptyDir at /tmp and the volumes; no /run/netns (nothing mounts
// it); the host's network namespace (hostNetwork: true); chroot, then only the added
// capabilities, with no_new_privs (allowPrivilegeEscalation: false), UID 0.
const SANDBOX = `set -eu
lower=$1 upper=$2 work=$3 merged=$4 root=$5 config=$6 sa=$7 drop=$8 keep=$9
shift 9
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged"
# /var/run is a symbolic link to /run in Debian: the mount points are made under /run.
mkdir -p "$merged/etc/owlk8s" "$merged/run/secrets/kubernetes.io/serviceaccount"
mount --bind "$merged" "$root"
mount -o remount,bind,ro "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs "$root/dev"
for d in null zero full random urandom tty; do
  touch "$root/dev/$d"
  mount --bind "/dev/$d" "$root/dev/$d"
done
ln -s /proc/self/fd "$root/dev/fd"
mount -t tmpfs -o nosuid,nodev,size=16m tmpfs "$root/tmp"
mount --bind -o ro "$config" "$root/etc/owlk8s"
mount --bind -o ro "$sa" "$root/run/secrets/kubernetes.io/serviceaccount"
exec capsh --chroot="$root" --drop="$drop" --caps="$keep+eip" --no-new-privs --shell=/bin/sh -- -c 'cd "$0" && exec "$@"' "$@"
`;

/** Starts the image's ENTRYPOINT with the DaemonSet's args in the sandbox above. */
export function startInImage(opts: InImageOptions): InImageAgent {
  const { entrypoint, env: imageEnv, workdir } = dockerfileRuntime();
  const container = daemonSetContainer();
  const dir = mkdtempSync(join(tmpdir(), 'owlk8s-run-'));
  for (const d of ['upper', 'work', 'merged', 'root', 'config', 'sa']) mkdirSync(join(dir, d));
  for (const [f, text] of Object.entries(opts.config)) writeFileSync(join(dir, 'config', f), text);
  for (const [f, text] of Object.entries(opts.serviceAccount)) writeFileSync(join(dir, 'sa', f), text);
  const mounts = container.volumeMounts.map((m) => m.mountPath).sort();
  assert.deepEqual(mounts, ['/etc/owlk8s', '/tmp'], 'the sandbox mounts what the DaemonSet mounts');
  const env: Record<string, string> = {
    // what debian:trixie-slim sets, and the image's ENV
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOSTNAME: 'owlk8s-image-test',
    HOME: '/root',
    ...imageEnv,
  };
  for (const e of container.env) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    if (path !== undefined) {
      const v = opts.fieldRefs[path];
      if (v === undefined)
        throw new Error(`the DaemonSet's env ${e.name} needs fieldRef ${path}: give it in fieldRefs`);
      env[e.name] = v;
    } else if (e.valueFrom?.secretKeyRef?.optional !== true) {
      throw new Error(`the DaemonSet's env ${e.name}: only fieldRef and optional secretKeyRef are simulated`);
    }
  }
  Object.assign(env, opts.env);
  const all = allCapabilities();
  const drop = all.filter((c) => !opts.capabilities.includes(c));
  const lower = [...(opts.layers ?? []), opts.image.app, opts.image.base].join(':');
  const child = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      SANDBOX,
      'sh',
      lower,
      ...['upper', 'work', 'merged', 'root', 'config', 'sa'].map((d) => join(dir, d)),
      drop.join(','),
      opts.capabilities.join(','),
      workdir,
      ...entrypoint,
      ...container.args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let log = '';
  child.stdout!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      rmSync(dir, { recursive: true, force: true });
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  return {
    child,
    pid: child.pid!,
    log: () => log,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `url` until it answers 200; fails with the agent's log when it exits first or `ms` pass. */
export async function waitFor200(agent: InImageAgent, url: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) break;
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  assert.fail(
    `${url}: no 200 (agent exit ${agent.child.exitCode ?? agent.child.signalCode}); the agent's log:\n${agent.log()}`,
  );
}

export async function scrape(url: string): Promise<Sample[]> {
  return parsePrometheusText(await (await fetch(url)).text());
}
