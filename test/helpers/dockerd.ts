// A private dockerd for tests (as root), through the lab's one dockerd starter
// (src/lab/lab-dockerd.ts): its own dir in a temp dir (data root, exec root, pidfile, socket,
// config file), its own cgroup parent, no default bridge, no iptables, so it touches nothing
// of the machine's own Docker (if any) nor its firewall. Optionally inside a network
// namespace (`true` makes a private one): there its bridges and the traffic between
// containers stay out of the host's namespace, whose traffic to private ranges is flagged on
// these machines.
//
// stop() leaves nothing behind, also after dockerd crashed (see stopDockerd: its temp dir
// too), then deletes the namespace it made.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DockerEngine } from '../../src/container/engine/index.ts';
import {
  dockerdLog,
  dockerdSocket,
  startDockerd as startRecordedDockerd,
  stopDockerd,
  type DockerdRecord,
} from '../../src/lab/lab-dockerd.ts';

const run = promisify(execFile);

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
  const record: DockerdRecord = {
    dir,
    cgroupParent: `/flotilla-test-dockerd-${id}`,
    ...(netns !== undefined && { netns }),
  };
  const stop = async () => {
    await stopDockerd(record);
    if (ownNetns) await run('ip', ['netns', 'del', netns!]).catch(() => undefined);
  };
  try {
    if (ownNetns) {
      await run('ip', ['netns', 'add', netns!]);
      await run('ip', ['-n', netns!, 'link', 'set', 'lo', 'up']);
    }
    await startRecordedDockerd(record);
  } catch (error) {
    await stop();
    throw error;
  }
  const socketPath = dockerdSocket(record);
  return {
    pid: record.pid!,
    dir: record.dir,
    socketPath,
    engine: new DockerEngine({ socketPath }),
    storageDriver: record.storageDriver!,
    netns,
    log: () => dockerdLog(record),
    stop,
  };
}
