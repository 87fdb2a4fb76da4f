// `flotilla node leave`, run on a node: removes what `down` leaves on purpose — the node's
// WireGuard interface (by its recorded wireguard-go PID, or the kernel link of that name) and
// its firewall table — after stopping its agent by its recorded PID. It refuses while the
// stack still runs here (a hub or a service process): `down` comes first. Idempotent.
import path from 'node:path';
import { deleteNftTable, nftTableExists } from '../agent/nftables.ts';
import { listInstanceRecords } from '../agent/process/instance-records.ts';
import { agentPaths, readMembership } from '../daemon/membership.ts';
import { readEndpoint } from '../hub/api-endpoint.ts';
import {
  bringDownInterface,
  interfaceRunning,
  linkExists,
  recordedInterfaces,
} from '../mesh/wireguard.ts';
import { isAlive, isRunning } from '../system/proc.ts';
import { runningAgentPid, stopAgent } from './agent-pid.ts';
import { FIREWALL_TABLE } from './left-running.ts';

/** The stack still runs on this node: leaving would cut its services off the mesh. */
export class StackStillUp extends Error {
  readonly hint = 'run `flotilla down` on the hub first, then `flotilla node leave` here';
}

export interface LeaveOptions {
  stateDir: string;
  /** Interface names the stack file gives this machine's nodes (a kernel link has no pid file). */
  interfaces?: readonly string[];
  /** Told what is being done, one line each. */
  log?: (line: string) => void;
}

/** Throws StackStillUp when this node's hub or any of its service processes still runs. */
async function refuseWhileUp(stateDir: string): Promise<void> {
  const hub = await readEndpoint(stateDir);
  if (hub && isAlive(hub.pid))
    throw new StackStillUp(`the hub still runs on this node (pid ${hub.pid})`);
  const running = listInstanceRecords(path.join(stateDir, 'agent', 'instances')).filter((record) =>
    isRunning(record.pid, record.startTime),
  );
  if (running.length > 0)
    throw new StackStillUp(
      `the stack is still up on this node: ${running.length} service instance${running.length === 1 ? '' : 's'} running (${running.map((record) => record.id).join(', ')})`,
    );
}

/** Removes this node's mesh interface(s) and firewall table; returns what it removed. */
export async function leaveNode(options: LeaveOptions): Promise<string[]> {
  const paths = agentPaths(options.stateDir);
  await refuseWhileUp(paths.stateDir);
  const removed: string[] = [];
  const agent = await runningAgentPid(paths.stateDir);
  if (agent !== undefined) {
    options.log?.(`stopping the agent (pid ${agent})`);
    await stopAgent(paths.stateDir, agent);
    removed.push(`agent (pid ${agent})`);
  }
  const membership = await readMembership(paths).catch(() => undefined);
  const recorded = new Set(await recordedInterfaces(paths.meshDir));
  const names = new Set([
    ...(membership?.mesh ? [membership.mesh.interface] : []),
    ...recorded,
    ...(options.interfaces ?? []),
  ]);
  for (const name of names) {
    const ref = { name, stateDir: paths.meshDir };
    const present = (await interfaceRunning(ref)) || (await linkExists(ref));
    // wireguard-go sockets share one dir across namespaces (the lab): touch only our own.
    if (!present && !recorded.has(name)) continue;
    // A stale pid file goes too, silently: nothing was running.
    await bringDownInterface(ref);
    if (present) removed.push(`mesh interface ${name}`);
  }
  const { family, name } = FIREWALL_TABLE;
  if (await nftTableExists(family, name)) {
    await deleteNftTable(family, name);
    removed.push(`firewall table ${family} ${name}`);
  }
  return removed;
}
