// A private dockerd for tests (as root): its own data root, exec root, pidfile, socket,
// config file and cgroup parent in a temp dir, no default bridge, no iptables, so it touches
// nothing of the machine's own Docker (if any) nor its firewall. overlay2 when this kernel
// and filesystem allow it, else vfs. Optionally inside a network namespace (the lab runs one
// per node): there its bridges and the traffic between containers stay out of the host's
// namespace, whose traffic to private ranges is flagged on these machines.
//
// stop() leaves nothing behind: containers and networks removed through the API, dockerd
// stopped by its PID, then its containerd and the shims by the PIDs they recorded in their
// pid files (shims outlive dockerd when containers do), leftover mounts below the temp dir
// unmounted, the cgroup parent and the temp dir removed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DockerEngine } from '../../src/container/engine/index.ts';

const run = promisify(execFile);

const STORAGE_DRIVERS = ['overlay2', 'vfs'] as const;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const PID_FILES = new Set(['containerd.pid', 'shim.pid']);
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Networks every engine has; the rest were made by the test. */
const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none']);

export interface DockerdOptions {
  /** Run inside this network namespace; `true` makes a private one that stop() deletes. */
  netns?: string | true;
}

export interface Dockerd {
  pid: number;
  dir: string;
  socketPath: string;
  engine: DockerEngine;
  /** overlay2, or vfs where overlay2 would not start. */
  storageDriver: string;
  netns: string | undefined;
  /** dockerd's log (every attempt), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export async function startDockerd(options: DockerdOptions = {}): Promise<Dockerd> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flt-dockerd-'));
  const id = randomBytes(3).toString('hex');
  const ownNetns = options.netns === true;
  const netns = ownNetns ? `flt-dockerd-${id}` : (options.netns as string | undefined);
  const cgroupParent = `/flotilla-test-dockerd-${id}`;
  const socketPath = path.join(dir, 'docker.sock');
  const logPath = path.join(dir, 'dockerd.log');
  const configPath = path.join(dir, 'daemon.json');
  // Its own config file, so /etc/docker/daemon.json (if any) changes nothing; the trust key
  // dockerd 20.10 still writes would otherwise land in /etc/docker.
  await writeFile(
    configPath,
    JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }),
  );
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const state: DaemonState = { dir, netns, ownNetns, cgroupParent, child: undefined };
  try {
    if (ownNetns) {
      await run('ip', ['netns', 'add', netns!]);
      await run('ip', ['-n', netns!, 'link', 'set', 'lo', 'up']);
    }
    for (const driver of STORAGE_DRIVERS) {
      const argv = [
        'dockerd',
        '--config-file',
        configPath,
        '--data-root',
        path.join(dir, `data-${driver}`),
        '--exec-root',
        path.join(dir, 'exec'),
        '--pidfile',
        path.join(dir, 'docker.pid'),
        '-H',
        `unix://${socketPath}`,
        '--storage-driver',
        driver,
        '--bridge=none',
        '--iptables=false',
        '--ip6tables=false',
        '--cgroup-parent',
        cgroupParent,
        // In the host's namespace, leave its sysctl alone; a namespace of its own may route.
        ...(netns === undefined ? ['--ip-forward=false'] : []),
      ];
      const child = launch(
        netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv],
        logPath,
      );
      state.child = child;
      const engine = new DockerEngine({ socketPath });
      if (await ready(engine, child)) {
        const info = await engine.system.info();
        return {
          pid: child.pid!,
          dir,
          socketPath,
          engine,
          storageDriver: info.storageDriver,
          netns,
          log,
          stop: () => stopDaemon(state, engine),
        };
      }
      // It exited: overlay2 is not possible here; the next driver gets a fresh data root.
      // The containerd it had started may still run.
      state.child = undefined;
      for (const pid of await recordedPids(dir)) await killOwned(pid, dir);
    }
    throw new Error(
      `dockerd did not start with any storage driver; its log:\n${log().slice(-4000)}`,
    );
  } catch (error) {
    await stopDaemon(state, undefined);
    throw error;
  }
}

interface DaemonState {
  dir: string;
  netns: string | undefined;
  ownNetns: boolean;
  cgroupParent: string;
  child: ChildProcess | undefined;
}

function launch(argv: string[], logPath: string): ChildProcess {
  const logFd = openSync(logPath, 'a');
  try {
    const [program, ...args] = argv;
    return spawn(program!, args, { stdio: ['ignore', logFd, logFd], env: { PATH } });
  } finally {
    closeSync(logFd);
  }
}

/** True once the engine answers; false when the process exited first. */
async function ready(engine: DockerEngine, child: ChildProcess): Promise<boolean> {
  const exited = new Promise<false>((resolve) => child.once('exit', () => resolve(false)));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      await engine.system.ping(AbortSignal.timeout(2_000));
      return true;
    } catch {
      await Promise.race([sleep(100), exited]);
    }
  }
  child.kill('SIGKILL');
  throw new Error(`dockerd did not answer within ${READY_TIMEOUT_MS / 1000} s`);
}

async function stopDaemon(state: DaemonState, engine: DockerEngine | undefined): Promise<void> {
  const { child, dir } = state;
  if (engine !== undefined) await removeEverything(engine).catch(() => undefined);
  // Recorded before dockerd goes: the shims' bundle dirs (and pid files) go with it.
  const recorded = await recordedPids(dir);
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  for (const pid of recorded) await killOwned(pid, dir);
  await unmountBelow(dir);
  await removeCgroups(state.cgroupParent);
  if (state.ownNetns && state.netns !== undefined) {
    await run('ip', ['netns', 'del', state.netns]).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
}

async function removeEverything(engine: DockerEngine): Promise<void> {
  for (const container of await engine.containers.list([])) {
    await engine.containers.remove(container.id, { force: true });
  }
  // Their bridges would outlive dockerd in the namespace it ran in.
  for (const network of await engine.networks.list([])) {
    if (!PREDEFINED_NETWORKS.has(network.name)) await engine.networks.remove(network.id);
  }
}

/** PIDs containerd and its shims wrote below the exec root. */
async function recordedPids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  const entries = await readdir(path.join(dir, 'exec'), {
    recursive: true,
    withFileTypes: true,
  }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile() || !PID_FILES.has(entry.name)) continue;
    const text = await readFile(path.join(entry.parentPath, entry.name), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0) pids.push(pid);
  }
  return pids;
}

/** Kills `pid` if it is still one of ours (its argv names our dir), and waits for it to go. */
async function killOwned(pid: number, dir: string): Promise<void> {
  const owned = () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) return false;
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  };
  if (!owned()) return;
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (owned() && Date.now() < deadline) await sleep(50);
}

/** Mounts a crashed dockerd left below `dir` (in our mount namespace), deepest first. */
async function unmountBelow(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point !== undefined && point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run('umount', ['-l', point]).catch(() => undefined);
}

/** The cgroup parent in every hierarchy (v1 controllers, v2), children first. */
async function removeCgroups(parent: string): Promise<void> {
  const roots = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  const candidates = [
    path.join('/sys/fs/cgroup', parent),
    ...roots.map((root) => path.join('/sys/fs/cgroup', root, parent)),
  ];
  for (const cgroup of candidates) {
    if (!existsSync(cgroup)) continue;
    const children = await readdir(cgroup, { withFileTypes: true }).catch(() => []);
    for (const child of children) {
      if (child.isDirectory()) await rmdir(path.join(cgroup, child.name)).catch(() => undefined);
    }
    await rmdir(cgroup).catch(() => undefined);
  }
}
