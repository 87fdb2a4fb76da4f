// `flotilla node doctor`: reads this node (commands on PATH, listening sockets via `ss`, the
// firewall table, the mesh interface via `wg show`, the hub's clock, the state dir's disk)
// and runs the checks of doctor-checks.ts on what it read.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile, statfs } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { nftTableExists } from '../agent/nftables.ts';
import { agentPaths, readMembership } from '../daemon/membership.ts';
import { interfaceRunning, interfaceStatus, linkExists } from '../mesh/wireguard.ts';
import { JOIN_PORT } from '../plan/firewall-access.ts';
import type { Stack } from '../spec/schema.ts';
import { runningAgentPid } from './agent-pid.ts';
import {
  checkClock,
  checkCommands,
  checkDisk,
  checkFirewall,
  checkMesh,
  checkPorts,
  type CheckResult,
  type Listener,
  type WantedCommand,
  type WantedPort,
} from './doctor-checks.ts';
import { FIREWALL_TABLE } from './left-running.ts';
import { meshInterfaceNames, runningHere, stackInterfaceNames } from './node-leave.ts';

const run = promisify(execFile);
const DEPS_SCRIPT = fileURLToPath(new URL('../../scripts/install-system-deps.sh', import.meta.url));
const CLOCK_TIMEOUT_MS = 3_000;

/** The `[command]=package` table of scripts/install-system-deps.sh: one list for both. */
export function parseWantedCommands(script: string): WantedCommand[] {
  const table = /declare -A wanted=\(([\s\S]*?)\n\)/.exec(script)?.[1] ?? '';
  return [...table.matchAll(/^\s*\[([^\]]+)\]=(\S+)/gm)].map((match) => ({
    command: match[1]!,
    pkg: match[2]!,
  }));
}

async function onPath(command: string): Promise<boolean> {
  const candidates = command.startsWith('/')
    ? [command]
    : (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, command));
  for (const file of candidates)
    if (
      await access(file, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  return false;
}

/** `ss -Htlnp` lines: the local port and, when readable, the owner's name and PID. */
export function parseSsListeners(output: string): Listener[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      const local = line.trim().split(/\s+/)[3] ?? '';
      const port = Number(local.slice(local.lastIndexOf(':') + 1));
      if (!Number.isInteger(port)) return [];
      const owner = /\("([^"]*)",pid=(\d+)/.exec(line);
      return [owner ? { port, process: owner[1]!, pid: Number(owner[2]) } : { port }];
    });
}

async function parentPid(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

/** Whether `pid` is one of `roots` or descends from one (Caddy and services are children). */
async function descendsFrom(pid: number, roots: ReadonlySet<number>): Promise<boolean> {
  for (let current: number | undefined = pid, hops = 0; current && hops < 32; hops++) {
    if (roots.has(current)) return true;
    current = await parentPid(current);
  }
  return false;
}

/** The stack's ports: the gateway's where a node has one, and every service's. */
export function stackPorts(stack: Stack): WantedPort[] {
  const gateway = Object.values(stack.nodes).some((node) => node.gateway)
    ? [
        { port: stack.gateway.http_port, what: 'gateway http' },
        { port: stack.gateway.https_port, what: 'gateway https' },
      ]
    : [];
  const services = Object.entries(stack.services).flatMap(([name, service]) =>
    Object.values(service.ports).map((port) => ({ port, what: `service ${name}` })),
  );
  return [...gateway, ...services];
}

async function hubClock(
  stateDir: string,
  isHub: boolean,
): Promise<{ date: Date } | { skipped: string }> {
  if (isHub) return { skipped: 'this node runs the hub' };
  const membership = await readMembership(agentPaths(stateDir)).catch(() => undefined);
  const endpoint = membership?.mesh?.hub.endpoint;
  if (!endpoint) return { skipped: 'this node has not joined a hub (no membership here)' };
  const host = endpoint.slice(0, endpoint.lastIndexOf(':'));
  try {
    const response = await fetch(`http://${host}:${JOIN_PORT}/`, {
      signal: AbortSignal.timeout(CLOCK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    const date = response.headers.get('date');
    if (!date) return { skipped: `the hub at ${host} sent no Date header` };
    return { date: new Date(date) };
  } catch (error) {
    return {
      skipped: `the hub at ${host}:${JOIN_PORT} is not reachable (${(error as Error).message})`,
    };
  }
}

/**
 * Whether the agent holds a desired state from the hub (agent/hub-state.json): the stack is
 * meant to run here until `down` has the agent save none. Read without checking the hub's
 * signature: only its presence matters here.
 */
async function holdsDesiredState(stateDir: string): Promise<boolean> {
  const text = await readFile(path.join(stateDir, 'agent', 'hub-state.json'), 'utf8').catch(
    () => undefined,
  );
  if (text === undefined) return false;
  try {
    const saved = z.object({ desired: z.unknown() }).safeParse(JSON.parse(text));
    return saved.success && saved.data.desired !== null && saved.data.desired !== undefined;
  } catch {
    return false;
  }
}

export interface DoctorOptions {
  stateDir: string;
  /** The stack file's stack, when given: its ports and interface names. */
  stack?: Stack;
  now?: () => Date;
}

/** Reads this node and runs every check, in the order they are printed. */
export async function doctorNode(options: DoctorOptions): Promise<CheckResult[]> {
  const { stateDir, stack } = options;
  const now = options.now ?? (() => new Date());
  const script = await readFile(DEPS_SCRIPT, 'utf8').catch(() => '');
  const wanted = parseWantedCommands(script);
  const present = new Map<string, boolean>();
  for (const { command } of wanted) present.set(command, await onPath(command));

  const here = await runningHere(stateDir);
  const agent = await runningAgentPid(stateDir);
  // Services adopted after an agent restart are no longer its children: their own PIDs count.
  const roots = new Set([
    ...(here.hub === undefined ? [] : [here.hub]),
    ...(agent === undefined ? [] : [agent]),
    ...here.instances.map((instance) => instance.pid),
  ]);
  const ss = await run('ss', ['-Htlnp']).then(
    ({ stdout }) => stdout,
    () => '',
  );
  const listeners = parseSsListeners(ss);
  const ours = new Set<number>();
  for (const listener of listeners)
    if (listener.pid !== undefined && (await descendsFrom(listener.pid, roots)))
      ours.add(listener.pid);

  const { names, recorded } = await meshInterfaceNames(
    stateDir,
    stack ? stackInterfaceNames(stack) : [],
  );
  const meshDir = agentPaths(stateDir).meshDir;
  let name: string | undefined;
  for (const candidate of names)
    if (
      (await interfaceRunning({ name: candidate, stateDir: meshDir })) ||
      (await linkExists({ name: candidate }))
    ) {
      name = candidate;
      break;
    }
  const peers = name
    ? await interfaceStatus({ name }).then(
        (status) => status.peers,
        () => [],
      )
    : [];
  const membership = await readMembership(agentPaths(stateDir)).catch(() => undefined);
  const state = {
    running:
      here.hub !== undefined ||
      here.instances.length > 0 ||
      agent !== undefined ||
      (await holdsDesiredState(stateDir)),
    // Joined, or a mesh interface of its own here, or a stack of several WireGuard nodes.
    cluster:
      membership?.mesh !== undefined ||
      recorded.size > 0 ||
      name !== undefined ||
      (stack?.mesh.provider === 'wireguard' && Object.keys(stack.nodes).length > 1),
  };
  const table = await nftTableExists(FIREWALL_TABLE.family, FIREWALL_TABLE.name);
  const disk = await statfs(stateDir).catch(() => undefined);

  return [
    script === ''
      ? { check: 'commands', status: 'warn', detail: `cannot read the list in ${DEPS_SCRIPT}` }
      : checkCommands(wanted, (command) => present.get(command) === true),
    checkPorts(stack ? stackPorts(stack) : [], listeners, (pid) => ours.has(pid)),
    checkFirewall(state, table),
    checkMesh(state, { name: name ?? names[0], up: name !== undefined, peers }, now()),
    checkClock(await hubClock(stateDir, here.hub !== undefined), now()),
    disk
      ? checkDisk(stateDir, disk.bavail * disk.bsize, disk.blocks * disk.bsize)
      : {
          check: 'disk',
          status: 'fail',
          detail: `cannot read ${stateDir}`,
          hint: 'give the node’s state dir: --state-dir DIR, or -f flotilla.yml',
        },
  ];
}
