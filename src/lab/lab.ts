// The lab: virtual VPS on this machine. Each node is a network namespace wired by a veth
// pair to a bridge that lives in a dedicated "internet" namespace, with a public address
// from the documentation range 203.0.113.0/24. Nothing is ever created in the host's own
// namespace: both ends of every veth are born inside lab namespaces.
//
// Everything a lab will create is written to its state file BEFORE the first `ip` call,
// so `down` can remove every piece even after a crash halfway through `up`. With `docker`,
// each node also runs a Docker Engine of its own (see lab-dockerd.ts): its PID is added to
// the state file the moment it answers, and `down` stops it by that PID first.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:os';
import { copyFile, mkdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { LabError } from './lab-error.ts';
import { dockerdSocket, runningDockerd, startDockerd, stopDockerd } from './lab-dockerd.ts';
import {
  labStateSchema,
  type LabDockerd,
  type LabNode,
  type LabResource,
  type LabState,
} from './lab-state.ts';

const execFileAsync = promisify(execFile);

export { LabError };
export type { LabDockerd, LabNode, LabResource, LabState };

export const INTERNET_ADDRESS = '203.0.113.1';
export const MAX_NODES = 50;
const PREFIX_LENGTH = 24;

export interface LabOptions {
  /** One dockerd per node, inside the node's namespace. */
  docker?: boolean;
}

export function labDir(): string {
  return process.env.FLOTILLA_LAB_DIR ?? '/var/lib/flotilla/labs';
}

export function stateFile(name: string): string {
  return path.join(labDir(), `${name}.json`);
}

const LAB_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function checkLabName(name: string): void {
  if (!LAB_NAME.test(name))
    throw new LabError(
      `invalid lab name "${name}"`,
      'use 1–32 lowercase letters, digits and dashes, starting with a letter or digit',
    );
}

/** `fl` + 6 hex digits of the name's hash: short enough for 15-character link names. */
export function shortId(name: string): string {
  return `fl${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
}

/** Where a lab keeps what its nodes' engines own (data roots, sockets): beside its state file. */
export function labDockerDir(name: string): string {
  return path.join(labDir(), `${name}.docker`);
}

/** The whole lab as it will exist, computed before anything is created (pure). */
export function planLab(name: string, nodeCount: number, options: LabOptions = {}): LabState {
  checkLabName(name);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES)
    throw new LabError(
      `invalid node count ${nodeCount}`,
      `use --nodes with a whole number from 1 to ${MAX_NODES}`,
    );
  const short = shortId(name);
  const internetNamespace = `flotilla-${name}-internet`;
  const bridge = `${short}-br`;
  const nodes: LabNode[] = [];
  for (let index = 1; index <= nodeCount; index++)
    nodes.push({
      name: `node${index}`,
      namespace: `flotilla-${name}-node${index}`,
      address: `203.0.113.${10 + index}`,
      hostLink: `${short}-h${index}`,
      nodeLink: `${short}-n${index}`,
    });
  const resources: LabResource[] = [
    { kind: 'netns', name: internetNamespace },
    { kind: 'link', name: bridge, namespace: internetNamespace },
  ];
  for (const node of nodes)
    resources.push(
      { kind: 'netns', name: node.namespace },
      { kind: 'link', name: node.hostLink, namespace: internetNamespace },
      { kind: 'link', name: node.nodeLink, namespace: node.namespace },
    );
  if (options.docker)
    for (const node of nodes)
      resources.push({
        kind: 'dockerd',
        node: node.name,
        dir: path.join(labDockerDir(name), node.name),
        netns: node.namespace,
        cgroupParent: `/flotilla-lab-${short}-${node.name}`,
      });
  return {
    version: 1,
    name,
    short,
    createdAt: new Date().toISOString(),
    internetNamespace,
    bridge,
    internetAddress: INTERNET_ADDRESS,
    nodes,
    resources,
  };
}

// ---- running `ip` -----------------------------------------------------------------------

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args, { timeout: 15_000 });
    return stdout;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT')
      throw new LabError('`ip` was not found', 'install iproute2 (apt-get install iproute2)');
    const detail = (failure.stderr ?? '').trim() || failure.message;
    throw new Error(`ip ${args.join(' ')}: ${detail}`);
  }
}

export async function listNamespaces(): Promise<Set<string>> {
  const out = await ip(['netns', 'list']);
  // Lines look like "name" or "name (id: 3)".
  return new Set(
    out
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0] ?? '')
      .filter((name) => name !== ''),
  );
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new LabError(
      'the lab needs root: it creates network namespaces, a bridge and veth pairs',
      'rerun with sudo, e.g. `sudo flotilla lab up`',
    );
}

// ---- state file -------------------------------------------------------------------------

export async function readState(name: string): Promise<LabState | undefined> {
  checkLabName(name);
  let text: string;
  try {
    text = await readFile(stateFile(name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw unreadableState(name, (error as Error).message);
  }
  const parsed = labStateSchema.safeParse(json);
  if (!parsed.success) throw unreadableState(name, z.prettifyError(parsed.error));
  return parsed.data;
}

function unreadableState(name: string, detail: string): LabError {
  return new LabError(
    `${stateFile(name)} is not a lab state file this Flotilla can read:\n${detail}`,
    'remove what it describes by hand (`ip netns list`; engines under its .docker dir), then delete the file',
  );
}

export async function requireState(name: string): Promise<LabState> {
  const state = await readState(name);
  if (!state)
    throw new LabError(
      `no lab named "${name}" (no ${stateFile(name)})`,
      `create it with \`flotilla lab up --name ${name}\``,
    );
  return state;
}

/** Creates the state file exclusively: two `up`s of one name cannot both succeed. */
async function recordNewState(state: LabState): Promise<void> {
  await mkdir(labDir(), { recursive: true });
  try {
    await writeFile(stateFile(state.name), '', { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw labExists(state.name);
    throw error;
  }
  await saveState(state);
}

/** Writes the state file whole (also a PID learnt after `up` began), never half-written. */
async function saveState(state: LabState): Promise<void> {
  const file = stateFile(state.name);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  await rename(temporary, file);
}

function labExists(name: string): LabError {
  return new LabError(
    `lab "${name}" already exists (${stateFile(name)})`,
    `see it with \`flotilla lab status --name ${name}\`, or remove it with \`flotilla lab down --name ${name}\``,
  );
}

/**
 * `ip netns exec` bind-mounts /etc/netns/<namespace>/* over /etc: each node gets its own
 * /etc/hosts (a copy of the machine's), like a VPS, for its agent to keep names in.
 */
function namespaceEtcDir(namespace: string): string {
  return path.join('/etc/netns', namespace);
}

async function giveOwnHostsFile(namespace: string): Promise<void> {
  const dir = namespaceEtcDir(namespace);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await copyFile('/etc/hosts', path.join(dir, 'hosts'));
}

// ---- up / down / status / exec -----------------------------------------------------------

export async function labUp(
  name: string,
  nodeCount: number,
  options: LabOptions = {},
): Promise<LabState> {
  requireRoot();
  const state = planLab(name, nodeCount, options);
  if (await readState(name)) throw labExists(name);
  const existing = await listNamespaces();
  const clash = labNamespaces(state).find((namespace) => existing.has(namespace));
  if (clash)
    throw new LabError(
      `network namespace ${clash} already exists but no lab state records it`,
      `remove it with \`ip netns del ${clash}\` if it is a leftover, or pick another --name`,
    );
  await recordNewState(state);
  try {
    await build(state);
    // One at a time: a dockerd's start is heavy, and this machine may be shared.
    for (const engine of labDockerds(state)) {
      await startDockerd(engine);
      await saveState(state);
    }
  } catch (error) {
    await labDownState(state).catch(() => undefined);
    throw error;
  }
  return state;
}

async function build(state: LabState): Promise<void> {
  const inet = state.internetNamespace;
  await ip(['netns', 'add', inet]);
  await ip(['-n', inet, 'link', 'set', 'lo', 'up']);
  await ip(['-n', inet, 'link', 'add', state.bridge, 'type', 'bridge']);
  await ip([
    '-n',
    inet,
    'addr',
    'add',
    `${state.internetAddress}/${PREFIX_LENGTH}`,
    'dev',
    state.bridge,
  ]);
  await ip(['-n', inet, 'link', 'set', state.bridge, 'up']);
  for (const node of state.nodes) {
    await ip(['netns', 'add', node.namespace]);
    await giveOwnHostsFile(node.namespace);
    await ip(['-n', node.namespace, 'link', 'set', 'lo', 'up']);
    // Both ends are created directly inside their namespaces: never in the host's.
    await ip([
      '-n',
      inet,
      'link',
      'add',
      node.hostLink,
      'type',
      'veth',
      'peer',
      'name',
      node.nodeLink,
      'netns',
      node.namespace,
    ]);
    await ip(['-n', inet, 'link', 'set', node.hostLink, 'master', state.bridge]);
    await ip(['-n', inet, 'link', 'set', node.hostLink, 'up']);
    await ip([
      '-n',
      node.namespace,
      'addr',
      'add',
      `${node.address}/${PREFIX_LENGTH}`,
      'dev',
      node.nodeLink,
    ]);
    await ip(['-n', node.namespace, 'link', 'set', node.nodeLink, 'up']);
    await ip(['-n', node.namespace, 'route', 'add', 'default', 'via', state.internetAddress]);
  }
}

/** The processes living in a namespace (e.g. wireguard-go a node started). */
async function namespacePids(namespace: string): Promise<number[]> {
  const out = await ip(['netns', 'pids', namespace]).catch(() => '');
  return out
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 1);
}

/** Like powering a VPS off: whatever still runs in the lab's namespaces is stopped. */
async function stopNamespaceProcesses(namespaces: readonly string[]): Promise<void> {
  const signal = async (name: NodeJS.Signals) => {
    let left = 0;
    for (const namespace of namespaces)
      for (const pid of await namespacePids(namespace)) {
        left++;
        try {
          process.kill(pid, name);
        } catch {
          // Already gone.
        }
      }
    return left;
  };
  if ((await signal('SIGTERM')) === 0) return;
  for (let waited = 0; waited < 3_000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    let left = 0;
    for (const namespace of namespaces) left += (await namespacePids(namespace)).length;
    if (left === 0) return;
  }
  await signal('SIGKILL');
}

/** The network namespaces the lab creates, the internet's first. */
export function labNamespaces(state: LabState): string[] {
  return state.resources.flatMap((resource) => (resource.kind === 'netns' ? [resource.name] : []));
}

/** The lab's Docker Engines, one per node (none without `docker`). */
export function labDockerds(state: LabState): LabDockerd[] {
  return state.resources.filter((resource) => resource.kind === 'dockerd');
}

/** The engine of `nodeName`, which the lab must have been started with `docker`. */
export function nodeDockerd(state: LabState, nodeName: string): LabDockerd {
  const node = findNode(state, nodeName);
  const engine = labDockerds(state).find((candidate) => candidate.node === node.name);
  if (!engine)
    throw new LabError(
      `lab "${state.name}" has no Docker Engines`,
      `recreate it with one per node: \`flotilla lab down --name ${state.name}\` then \`flotilla lab up --docker --name ${state.name}\``,
    );
  return engine;
}

/** Removes every recorded piece that still exists; missing pieces are fine. */
export async function labDownState(state: LabState): Promise<void> {
  // Engines first, by their recorded PIDs: their containers and mounts are theirs to remove
  // (and a dockerd killed with its namespace's other processes would leave them).
  const engines = labDockerds(state);
  for (const engine of [...engines].reverse()) await stopDockerd(engine);
  for (const dir of new Set(engines.map((engine) => path.dirname(engine.dir))))
    await rmdir(dir).catch(() => undefined);
  let namespaces = await listNamespaces();
  await stopNamespaceProcesses(
    labNamespaces(state).filter((namespace) => namespaces.has(namespace)),
  );
  for (const resource of [...state.resources].reverse()) {
    if (resource.kind !== 'link') continue;
    if (!namespaces.has(resource.namespace)) continue; // gone with its namespace
    // The link may already be gone (with its veth peer): only a failure that leaves it is real.
    await ip(['-n', resource.namespace, 'link', 'del', resource.name]).catch(() => undefined);
  }
  for (const resource of [...state.resources].reverse()) {
    if (resource.kind !== 'netns') continue;
    await rm(namespaceEtcDir(resource.name), { recursive: true, force: true });
    if (namespaces.has(resource.name))
      await ip(['netns', 'del', resource.name]).catch(() => undefined);
  }
  namespaces = await listNamespaces();
  const left = labNamespaces(state).filter((namespace) => namespaces.has(namespace));
  if (left.length > 0)
    throw new LabError(
      `could not remove ${left.join(', ')}`,
      'a process may still be using the namespace; check `ip netns pids <name>`, then rerun `flotilla lab down`',
    );
}

/** `down` for a lab name: removes what its state file records, then the file. */
export async function labDown(name: string): Promise<boolean> {
  requireRoot();
  const state = await readState(name);
  if (!state) return false;
  await labDownState(state);
  await rm(stateFile(name), { force: true });
  return true;
}

export interface NodeStatus {
  node: string;
  namespace: string;
  address: string;
  exists: boolean;
  /** Answers a ping from the internet namespace; undefined when `ping` is not installed. */
  reachable: boolean | undefined;
  /** The node's Docker Engine, in a lab started with `docker`. */
  docker?: { socket: string; pid: number | undefined; running: boolean };
}

async function hasPing(): Promise<boolean> {
  try {
    await execFileAsync('ping', ['-V'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

export async function ping(namespace: string, address: string): Promise<boolean> {
  try {
    await execFileAsync('ip', ['netns', 'exec', namespace, 'ping', '-c1', '-W1', '-q', address], {
      timeout: 5_000,
    });
    return true;
  } catch {
    return false;
  }
}

export async function labStatus(state: LabState): Promise<NodeStatus[]> {
  const namespaces = await listNamespaces();
  const canPing = namespaces.has(state.internetNamespace) && (await hasPing());
  return Promise.all(
    state.nodes.map(async (node) => {
      const exists = namespaces.has(node.namespace);
      let reachable: boolean | undefined;
      if (!exists) reachable = false;
      else if (canPing) reachable = await ping(state.internetNamespace, node.address);
      const engine = labDockerds(state).find((candidate) => candidate.node === node.name);
      return {
        node: node.name,
        namespace: node.namespace,
        address: node.address,
        exists,
        reachable,
        ...(engine && {
          docker: {
            socket: dockerdSocket(engine),
            pid: engine.pid,
            running: runningDockerd(engine) !== undefined,
          },
        }),
      };
    }),
  );
}

export function findNode(state: LabState, nodeName: string): LabNode {
  const node = state.nodes.find((candidate) => candidate.name === nodeName);
  if (!node)
    throw new LabError(
      `lab "${state.name}" has no node "${nodeName}"`,
      `its nodes are ${state.nodes.map((candidate) => candidate.name).join(', ')}`,
    );
  return node;
}

/** Runs argv inside the node's namespace with the terminal's stdio; resolves to its exit code. */
export async function labExec(state: LabState, nodeName: string, argv: string[]): Promise<number> {
  requireRoot();
  const node = findNode(state, nodeName);
  if (!(await listNamespaces()).has(node.namespace))
    throw new LabError(
      `node ${node.name}'s namespace ${node.namespace} does not exist`,
      `recreate the lab: \`flotilla lab down --name ${state.name}\` then \`flotilla lab up --name ${state.name}\``,
    );
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', node.namespace, ...argv], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}
