// The processes of a lab cluster, found through what each node recorded under its state dir
// (never by name): the hub daemon, nats-server, Caddy, wireguard-go, every instance, and the
// agents LabCluster started. bench/cluster-scale measures their CPU and memory from /proc,
// and after a Ctrl-C or a failed `down` stops the supervisors first (so none restarts an
// instance while the lab goes), then anything recorded that outlived the lab.
import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  listInstanceRecords,
  readInstanceRecord,
} from '../../src/agent/process/instance-records.ts';
import { readProcStat } from '../../src/system/proc.ts';
import { readEndpoint } from '../../src/hub/api-endpoint.ts';
import type { LabCluster } from '../../test/helpers/lab-cluster.ts';

export type LabProcessKind = 'hub' | 'nats' | 'caddy' | 'wireguard' | 'agent' | 'instance';

export interface LabProcess {
  kind: LabProcessKind;
  node: string;
  pid: number;
  /** Start time in clock ticks since boot: tells this process from a later one with its PID. */
  startTime: number;
  /** Leads its own process group (instances, Caddy): the group goes with it. */
  group: boolean;
}

async function pidIn(file: string): Promise<number | undefined> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** Every process the cluster's nodes recorded (or LabCluster started) that runs now. */
export async function labProcesses(cluster: LabCluster): Promise<LabProcess[]> {
  const found: LabProcess[] = [];
  const add = (kind: LabProcessKind, node: string, pid: number | undefined, group = false) => {
    const stat = pid === undefined ? undefined : readProcStat(pid);
    if (stat && stat.state !== 'Z')
      found.push({ kind, node, pid: pid!, startTime: stat.startTime, group });
  };
  for (const [index, node] of cluster.nodes.entries()) {
    const stateDir = cluster.stateDir(node);
    if (index === 0) {
      add('hub', node, (await readEndpoint(stateDir))?.pid);
      add('nats', node, await pidIn(path.join(stateDir, 'bus', 'nats.pid')));
    } else {
      add('agent', node, cluster.agentPid(node));
    }
    const caddy = readInstanceRecord(path.join(stateDir, 'caddy'), 'caddy');
    if (caddy) add('caddy', node, caddy.pid, true);
    const meshDir = path.join(stateDir, 'mesh');
    for (const file of await readdir(meshDir).catch(() => [] as string[]))
      if (file.endsWith('.pid')) add('wireguard', node, await pidIn(path.join(meshDir, file)));
    for (const record of listInstanceRecords(path.join(stateDir, 'agent', 'instances')))
      add('instance', node, record.pid, true);
  }
  return found;
}

/** Whether `owned` is still that process (same PID and start time, not a zombie). */
export function stillRunning(owned: LabProcess): boolean {
  const stat = readProcStat(owned.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === owned.startTime;
}

/** SIGKILL for each of `processes` still running (its group for group leaders); what it killed. */
export function killSurvivors(processes: readonly LabProcess[]): string[] {
  const killed: string[] = [];
  for (const owned of processes) {
    if (!stillRunning(owned)) continue;
    try {
      process.kill(owned.group ? -owned.pid : owned.pid, 'SIGKILL');
    } catch {
      try {
        process.kill(owned.pid, 'SIGKILL');
      } catch {
        continue; // gone meanwhile
      }
    }
    killed.push(`${owned.kind} on ${owned.node} (pid ${owned.pid})`);
  }
  return killed;
}

/** Resident memory of `pid` in bytes (VmRSS), or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
