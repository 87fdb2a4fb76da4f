// A private Docker Engine (dockerd), one per lab node and one per container test fixture:
// its own data root, exec root, pidfile, socket, config file and cgroup parent in a dir of its
// own, no default bridge, no iptables, no IP forwarding, so it touches nothing of the
// machine's own Docker (if any) nor its firewall. overlay2 where this kernel and filesystem
// allow it, else vfs. Optionally inside a network namespace (a lab node's): there its bridges
// and the traffic between containers stay out of the host's namespace, whose traffic to
// private ranges is flagged on these machines. It shares the host's mount namespace.
//
// Everything about a daemon is a plain record (DockerdRecord), written down before it starts
// and completed with its PID once it answers, so a later process (`flotilla lab down`, after
// a crash) can stop it by PID and remove everything it left: containers and networks through
// the API, dockerd by its recorded PID once /proc confirms it is still that dockerd, then
// leftovers (see dockerd-leftovers.ts), shim sockets, the cgroup parent, its dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { DockerEngine } from '../container/engine/index.ts';
import { isAlive, readProcStat } from '../system/proc.ts';
import {
  cgroupProcs,
  inCgroup,
  killAll,
  namesDir,
  processesNaming,
  removeCgroups,
  unmountBelow,
} from './dockerd-leftovers.ts';
import { LabError } from './lab-error.ts';

const STORAGE_DRIVERS = ['overlay2', 'vfs'] as const;
/** Bounds for a loaded machine, not measurements. */
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** Where containerd keeps a bundle dir per container (dockerd's namespace is moby). */
const BUNDLES = 'exec/containerd/daemon/io.containerd.runtime.v2.task/moby';
const SHIM_SOCKETS = '/run/containerd/s';
/** What dockerd and the shims create outside its dir: removed if new and left empty. */
const SHARED_DIRS = ['/run/docker/plugins', '/run/docker', SHIM_SOCKETS, '/run/containerd'];
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Networks every engine has; the rest were made by its users. */
const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none']);

/** One daemon, as recorded (in a lab's state file, read back with zod). */
export const dockerdRecordSchema = z.object({
  /** Everything of the daemon's lives below this dir (absolute). */
  dir: z.string().startsWith('/'),
  /** The network namespace it runs in (a name under /run/netns); the host's when absent. */
  netns: z.string().optional(),
  /** Its containers' cgroups live below this one, so they can be found after a crash. */
  cgroupParent: z.string().startsWith('/'),
  /** Which SHARED_DIRS existed before it started: the others are its own to remove. */
  sharedDirsBefore: z.array(z.string()).optional(),
  pid: z.number().int().positive().optional(),
  /** /proc start time of `pid`: a PID alone is not an identity (PIDs are reused). */
  startTime: z.number().int().nonnegative().optional(),
  storageDriver: z.string().optional(),
});
export type DockerdRecord = z.infer<typeof dockerdRecordSchema>;

/** The daemon's API socket (short enough for a unix socket path under any lab dir). */
export function dockerdSocket(record: Pick<DockerdRecord, 'dir'>): string {
  return path.join(record.dir, 'docker.sock');
}

function logPath(record: Pick<DockerdRecord, 'dir'>): string {
  return path.join(record.dir, 'dockerd.log');
}

function pidFile(record: Pick<DockerdRecord, 'dir'>): string {
  return path.join(record.dir, 'docker.pid');
}

/** dockerd's log (every attempt), for failure messages. */
export function dockerdLog(record: Pick<DockerdRecord, 'dir'>): string {
  const file = logPath(record);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/**
 * Starts the daemon `record` describes and fills in its PID, start time and storage driver;
 * resolves once its API answers. The process is detached: it outlives the caller (`flotilla
 * lab up` exits) and is stopped by `stopDockerd` with the same record. On failure nothing of
 * it is left.
 */
export async function startDockerd(record: DockerdRecord): Promise<DockerdRecord> {
  const { dir } = record;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  record.sharedDirsBefore ??= SHARED_DIRS.filter((shared) => existsSync(shared));
  const configPath = path.join(dir, 'daemon.json');
  // Its own config file, so /etc/docker/daemon.json (if any) changes nothing; the trust key
  // dockerd 20.10 still writes would otherwise land in /etc/docker.
  await writeFile(
    configPath,
    JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }),
  );
  try {
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
        pidFile(record),
        '-H',
        `unix://${dockerdSocket(record)}`,
        '--storage-driver',
        driver,
        '--bridge=none',
        '--iptables=false',
        '--ip6tables=false',
        '--cgroup-parent',
        record.cgroupParent,
        // Never turn on IP forwarding: with --iptables=false nothing else keeps two bridge
        // networks apart (not even `internal`), and in the host's namespace it is the host's.
        '--ip-forward=false',
      ];
      // nsenter, not `ip netns exec`: that one also gives dockerd a mount namespace with a
      // fresh /sys, where /sys/fs/cgroup is missing ("Devices cgroup isn't mounted"). nsenter
      // execs dockerd, so the child's PID is dockerd's.
      const child = launch(
        record.netns === undefined
          ? argv
          : ['nsenter', `--net=/run/netns/${record.netns}`, '--', ...argv],
        logPath(record),
      );
      const engine = new DockerEngine({ socketPath: dockerdSocket(record) });
      if (await ready(engine, child, record)) {
        const info = await engine.system.info();
        record.pid = child.pid!;
        record.startTime = readProcStat(child.pid!)?.startTime;
        record.storageDriver = info.storageDriver;
        child.unref();
        return record;
      }
      // It exited: overlay2 is not possible here; the next driver gets a fresh data root.
      // The containerd it had started may still run.
      await killAll(processesNaming(dir), (pid) => namesDir(pid, dir), STOP_TIMEOUT_MS);
    }
    throw new LabError(
      `dockerd did not start with any storage driver; the end of its log:\n${dockerdLog(record).slice(-4000)}`,
      'check that Docker is installed (apt-get install docker.io) and that this kernel has cgroups mounted',
    );
  } catch (error) {
    await stopDockerd(record);
    throw error;
  }
}

function launch(argv: string[], log: string): ChildProcess {
  const logFd = openSync(log, 'a');
  try {
    const [program, ...args] = argv;
    return spawn(program!, args, {
      stdio: ['ignore', logFd, logFd],
      env: { PATH },
      detached: true,
    });
  } finally {
    closeSync(logFd);
  }
}

/** True once the engine answers; false when the process exited first. */
async function ready(
  engine: DockerEngine,
  child: ChildProcess,
  record: DockerdRecord,
): Promise<boolean> {
  let failed: Error | undefined;
  const exited = new Promise<false>((resolve) => {
    child.once('exit', () => resolve(false));
    child.once('error', (error: NodeJS.ErrnoException) => {
      failed =
        error.code === 'ENOENT'
          ? new LabError(
              `${child.spawnfile} was not found`,
              'install Docker and util-linux (apt-get install docker.io util-linux)',
            )
          : error;
      resolve(false);
    });
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (failed) throw failed;
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      await engine.system.ping(AbortSignal.timeout(2_000));
      return true;
    } catch {
      await Promise.race([sleep(100), exited]);
    }
  }
  child.kill('SIGKILL');
  throw new LabError(
    `dockerd did not answer within ${READY_TIMEOUT_MS / 1000} s`,
    `see its log: ${logPath(record)}`,
  );
}

/**
 * The recorded daemon's PID while it still runs: the recorded PID (with its start time) or,
 * when a crash came before the PID was recorded, the one in its pidfile; either only when
 * /proc shows a dockerd whose argv names this daemon's dir (PIDs are reused).
 */
export function runningDockerd(record: DockerdRecord): number | undefined {
  const candidates: number[] = [];
  if (record.pid !== undefined) candidates.push(record.pid);
  const fromFile = Number(readFileSafe(pidFile(record)).trim());
  if (Number.isInteger(fromFile) && fromFile > 0) candidates.push(fromFile);
  return candidates.find((pid) => {
    if (!isAlive(pid)) return false;
    if (pid === record.pid && record.startTime !== undefined)
      if (readProcStat(pid)?.startTime !== record.startTime) return false;
    const argv0 = (readFileSafe(`/proc/${pid}/cmdline`).split('\0')[0] ?? '').split('/').pop();
    return argv0 === 'dockerd' && namesDir(pid, record.dir);
  });
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Stops the daemon and removes everything it made; idempotent, and safe after a crash (of the
 * daemon or of whoever started it): missing pieces are fine.
 */
export async function stopDockerd(record: DockerdRecord): Promise<void> {
  const { dir } = record;
  let pid = runningDockerd(record);
  if (pid !== undefined) {
    await removeEverything(new DockerEngine({ socketPath: dockerdSocket(record) })).catch(
      () => undefined,
    );
  }
  // Read while dockerd runs: a container's bundle dir goes with it.
  const containerIds = await readdir(path.join(dir, BUNDLES)).catch(() => [] as string[]);
  pid = runningDockerd(record);
  if (pid !== undefined) await terminate(pid);
  // What a dockerd that crashed (or was killed) leaves running: its containers' processes,
  // which the kernel lists in our cgroup parent, then its containerd and shims, whose argv
  // names our dir (unique to this daemon). Shims record no pid file of their own.
  const { cgroupParent } = record;
  await killAll(cgroupProcs(cgroupParent), (p) => inCgroup(p, cgroupParent), STOP_TIMEOUT_MS);
  await killAll(processesNaming(dir), (p) => namesDir(p, dir), STOP_TIMEOUT_MS);
  // A killed shim leaves its socket where every containerd puts them.
  const containerd = path.join(dir, 'exec/containerd/containerd.sock');
  for (const id of containerIds) {
    const hash = createHash('sha256')
      .update(path.join(containerd, 'moby', id))
      .digest('hex');
    await rm(path.join(SHIM_SOCKETS, hash), { force: true });
  }
  await unmountBelow(dir);
  await removeCgroups(cgroupParent);
  await rm(dir, { recursive: true, force: true });
  if (record.sharedDirsBefore !== undefined)
    for (const shared of SHARED_DIRS)
      if (!record.sharedDirsBefore.includes(shared)) await rmdir(shared).catch(() => undefined);
}

/** SIGTERM (dockerd stops its containerd), SIGKILL after STOP_TIMEOUT_MS; waits for the end. */
async function terminate(pid: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Gone already.
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (!isAlive(pid)) return;
  signal('SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

async function removeEverything(engine: DockerEngine): Promise<void> {
  const signal = () => AbortSignal.timeout(STOP_TIMEOUT_MS);
  for (const container of await engine.containers.list([], signal())) {
    await engine.containers.remove(container.id, { force: true, signal: signal() });
  }
  // Their bridges would outlive dockerd in the namespace it ran in.
  for (const network of await engine.networks.list([], signal())) {
    if (!PREDEFINED_NETWORKS.has(network.name)) await engine.networks.remove(network.id, signal());
  }
}
