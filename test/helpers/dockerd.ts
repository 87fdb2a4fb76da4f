// A private dockerd for tests (as root): its own data root, exec root, pidfile, socket,
// config file and cgroup parent in a temp dir, no default bridge, no iptables, so it touches
// nothing of the machine's own Docker (if any) nor its firewall. overlay2 when this kernel
// and filesystem allow it, else vfs. Optionally inside a network namespace (the lab runs one
// per node): there its bridges and the traffic between containers stay out of the host's
// namespace, whose traffic to private ranges is flagged on these machines. It shares the
// host's mount namespace either way (its mounts are cleaned up from here).
//
// stop() leaves nothing behind, also after dockerd crashed: containers and networks removed
// through the API, dockerd stopped by its PID; then whatever still runs is killed by PID
// (container processes found in our cgroup parent, containerd and shims by our temp dir in
// their argv), shim sockets, mounts below the temp dir, the cgroup parent, the namespace it
// made, the temp dir and the /run dirs dockerd created are removed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DockerEngine } from '../../src/container/engine/index.ts';

const run = promisify(execFile);

const STORAGE_DRIVERS = ['overlay2', 'vfs'] as const;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** Where containerd keeps a bundle dir per container (dockerd's namespace is moby). */
const BUNDLES = 'exec/containerd/daemon/io.containerd.runtime.v2.task/moby';
const SHIM_SOCKETS = '/run/containerd/s';
/** What dockerd and the shims create outside the temp dir: removed if new and left empty. */
const SHARED_DIRS = ['/run/docker/plugins', '/run/docker', SHIM_SOCKETS, '/run/containerd'];
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
  const state: DaemonState = {
    dir,
    netns,
    ownNetns,
    cgroupParent,
    sharedDirsBefore: SHARED_DIRS.filter((shared) => existsSync(shared)),
    child: undefined,
  };
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
        // Never turn on IP forwarding: with --iptables=false nothing else keeps two bridge
        // networks apart (not even `internal`), and in the host's namespace it is the host's.
        '--ip-forward=false',
      ];
      // nsenter, not `ip netns exec`: that one also gives dockerd a mount namespace with a
      // fresh /sys, where /sys/fs/cgroup is missing ("Devices cgroup isn't mounted").
      const child = launch(
        netns === undefined ? argv : ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv],
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
      await killAll(processesNaming(dir), (pid) => procFile(pid, 'cmdline').includes(`${dir}/`));
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
  sharedDirsBefore: string[];
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
  // Read while dockerd runs: a container's bundle dir goes with it.
  const containerIds = await readdir(path.join(dir, BUNDLES)).catch(() => [] as string[]);
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  // What a dockerd that crashed (or was killed) leaves running: its containers' processes,
  // which the kernel lists in our cgroup parent, then its containerd and shims, whose argv
  // names our temp dir (unique to this daemon). Shims record no pid file of their own.
  const inCgroup = (pid: number) => procFile(pid, 'cgroup').includes(`${state.cgroupParent}/`);
  await killAll(cgroupProcs(state.cgroupParent), inCgroup);
  const namesDir = (pid: number) => procFile(pid, 'cmdline').includes(`${dir}/`);
  await killAll(processesNaming(dir), namesDir);
  // A killed shim leaves its socket where every containerd puts them.
  const containerd = path.join(dir, 'exec/containerd/containerd.sock');
  for (const id of containerIds) {
    const hash = createHash('sha256')
      .update(path.join(containerd, 'moby', id))
      .digest('hex');
    await rm(path.join(SHIM_SOCKETS, hash), { force: true });
  }
  await unmountBelow(dir);
  await removeCgroups(state.cgroupParent);
  if (state.ownNetns && state.netns !== undefined) {
    await run('ip', ['netns', 'del', state.netns]).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
  for (const shared of SHARED_DIRS) {
    if (!state.sharedDirsBefore.includes(shared)) await rmdir(shared).catch(() => undefined);
  }
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

/** A /proc file of `pid`; '' once it is gone or a zombie (nothing left to kill). */
function procFile(pid: number, name: string): string {
  try {
    if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return '';
    return readFileSync(`/proc/${pid}/${name}`, 'utf8');
  } catch {
    return '';
  }
}

/** Every PID in the cgroup parent (any hierarchy, any depth). */
function cgroupProcs(parent: string): number[] {
  const pids = new Set<number>();
  const walk = (cgroup: string) => {
    let entries;
    try {
      entries = readdirSync(cgroup, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) walk(path.join(cgroup, entry.name));
      if (entry.name !== 'cgroup.procs') continue;
      for (const line of readFileSync(path.join(cgroup, entry.name), 'utf8').split('\n')) {
        if (line !== '') pids.add(Number(line));
      }
    }
  };
  for (const root of cgroupRoots()) walk(path.join(root, parent));
  return [...pids];
}

/** PIDs whose argv names `dir`. */
function processesNaming(dir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => procFile(pid, 'cmdline').includes(`${dir}/`));
}

/** SIGKILLs each PID that is still ours, then waits until none is. */
async function killAll(pids: number[], ours: (pid: number) => boolean): Promise<void> {
  for (const pid of pids) {
    if (!ours(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (pids.some(ours) && Date.now() < deadline) await sleep(50);
}

/** Where cgroup hierarchies are mounted: /sys/fs/cgroup (v2) and each v1 controller. */
function cgroupRoots(): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync('/sys/fs/cgroup');
  } catch {
    // No cgroups mounted.
  }
  return ['/sys/fs/cgroup', ...entries.map((name) => path.join('/sys/fs/cgroup', name))];
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

/** The cgroup parent in every hierarchy, its children (the containers') first. */
async function removeCgroups(parent: string): Promise<void> {
  const remove = async (cgroup: string): Promise<void> => {
    const entries = await readdir(cgroup, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory()) await remove(path.join(cgroup, entry.name));
    }
    await rmdir(cgroup).catch(() => undefined);
  };
  for (const root of cgroupRoots()) {
    const cgroup = path.join(root, parent);
    if (existsSync(cgroup)) await remove(cgroup);
  }
}
