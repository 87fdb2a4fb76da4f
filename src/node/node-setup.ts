// `flotilla node setup`, run on a server from a release `node add` or `node upgrade` unpacked
// there: makes that release current, writes the `flotilla` wrapper, joins the hub (first time
// only, with a token read from stdin, never argv), and has the agent running from the current
// release under systemd or detached. Idempotent: what is already right is left alone, and a
// running agent restarts only when its release or unit changed. Restarting it never restarts
// a service: the agent detaches on SIGTERM and the next one adopts them.
import { access, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { agentPaths, joinHub, readMembership } from '../daemon/membership.ts';
import { runCaptured } from '../system/run-captured.ts';
import { ensureStateDir } from '../state/state-dir.ts';
import { agentService, detectInitSystem, type InitSystem } from './agent-service.ts';
import {
  AGENT_STATE_DIR,
  COMPLETE_MARKER,
  CURRENT_LINK,
  RELEASES_DIR,
  releaseCommand,
  WRAPPER_FILE,
} from './install-layout.ts';
import { NodeSetupFailed } from './node-setup-error.ts';

export interface NodeState {
  /** The node this server joined as; undefined before it joins. */
  joined?: { node: string; stack: string };
  /** The release `current` points at. */
  release?: string;
  agentPid?: number;
  init: InitSystem;
}

export interface NodeSetupOptions {
  /** The release dir this runs from (under /opt/flotilla/releases). */
  releaseDir: string;
  node: string;
  /** The agent's --address, when peers reach this server elsewhere than the stack says. */
  address?: string;
  /** Needed only when this server has not joined yet. */
  token?: string;
  stateDir?: string;
}

export interface NodeSetupResult {
  /** One line per thing changed; empty when everything was already right. */
  changed: string[];
  agentPid: number;
  wireguard: 'kernel' | 'wireguard-go';
  init: InitSystem;
}

/** What is on this server now, changing nothing: `node add` asks before it mints a token. */
export async function readNodeState(stateDir = AGENT_STATE_DIR): Promise<NodeState> {
  const membership = await readMembership(agentPaths(stateDir)).catch(() => undefined);
  const current = await readlink(CURRENT_LINK).catch(() => undefined);
  const init = await detectInitSystem();
  const agentPid = await agentService(init, {
    command: releaseCommand(CURRENT_LINK),
    stateDir,
  }).running();
  return {
    ...(membership ? { joined: { node: membership.node, stack: membership.stack } } : {}),
    ...(current === undefined ? {} : { release: path.basename(current) }),
    ...(agentPid === undefined ? {} : { agentPid }),
    init,
  };
}

export async function setupNode(options: NodeSetupOptions): Promise<NodeSetupResult> {
  const stateDir = options.stateDir ?? AGENT_STATE_DIR;
  const changed: string[] = [];
  await checkRelease(options.releaseDir);

  const previous = await readlink(CURRENT_LINK).catch(() => undefined);
  const releaseChanged = previous !== options.releaseDir;
  if (releaseChanged) {
    await pointCurrentAt(options.releaseDir);
    changed.push(
      previous === undefined
        ? `installed release ${path.basename(options.releaseDir)}`
        : `release ${path.basename(previous)} → ${path.basename(options.releaseDir)}`,
    );
  }
  if (await writeIfDifferent(WRAPPER_FILE, wrapperText(), 0o755))
    changed.push(`wrote ${WRAPPER_FILE}`);

  await ensureStateDir(stateDir);
  const paths = agentPaths(stateDir);
  const membership = await readMembership(paths);
  if (membership && membership.node !== options.node)
    throw new NodeSetupFailed(
      `this server already is node ${membership.node} of stack ${membership.stack}, not ${options.node}`,
      `add it as ${membership.node}, or run \`flotilla node leave --state-dir ${stateDir}\` here and \`flotilla node rm ${membership.node}\` on the hub first`,
    );
  if (!membership) {
    if (options.token === undefined)
      throw new NodeSetupFailed(
        'this server has not joined a hub and no join token came on stdin',
        'run `flotilla node add` on the hub: it passes a fresh token',
      );
    await joinHub(paths, {
      token: options.token,
      node: options.node,
      ...(options.address === undefined ? {} : { address: options.address }),
    });
    changed.push(`joined as node ${options.node}`);
  }

  const wireguard = await loadKernelWireGuard();
  const init = await detectInitSystem();
  const service = agentService(init, {
    command: releaseCommand(CURRENT_LINK),
    stateDir,
    ...(options.address === undefined ? {} : { address: options.address }),
  });
  const unitChanged = await service.install();
  if (unitChanged) changed.push('wrote the agent’s systemd unit');
  const running = await service.running();
  let agentPid = running;
  if (running === undefined || releaseChanged || unitChanged) {
    agentPid = await service.start();
    changed.push(running === undefined ? 'started the agent' : 'restarted the agent');
  }
  return { changed, agentPid: agentPid!, wireguard, init };
}

async function checkRelease(dir: string): Promise<void> {
  const complete = await access(path.join(dir, COMPLETE_MARKER)).then(
    () => true,
    () => false,
  );
  if (path.dirname(dir) !== RELEASES_DIR || !complete)
    throw new NodeSetupFailed(
      `node setup runs from a release that \`flotilla node add\` unpacked under ${RELEASES_DIR}, not from ${dir}`,
      'run `flotilla node add` (or `node upgrade`) on the hub instead',
    );
}

/** A new link beside `current`, renamed over it: the agent never sees a missing link. */
async function pointCurrentAt(dir: string): Promise<void> {
  const next = `${CURRENT_LINK}.next`;
  await rm(next, { force: true });
  await symlink(dir, next);
  await rename(next, CURRENT_LINK);
}

function wrapperText(): string {
  const [node, cli] = releaseCommand(CURRENT_LINK);
  return `#!/bin/sh\n# Written by flotilla node setup: the release ${CURRENT_LINK} points at.\nexec ${node} ${cli} "$@"\n`;
}

async function writeIfDifferent(file: string, text: string, mode: number): Promise<boolean> {
  if ((await readFile(file, 'utf8').catch(() => undefined)) === text) return false;
  const partial = `${file}.partial`;
  await writeFile(partial, text, { mode });
  await rename(partial, file);
  return true;
}

/** Kernel WireGuard when the module loads; the agent falls back to wireguard-go otherwise. */
async function loadKernelWireGuard(): Promise<'kernel' | 'wireguard-go'> {
  const loaded = () =>
    access('/sys/module/wireguard').then(
      () => true,
      () => false,
    );
  if (await loaded()) return 'kernel';
  await runCaptured(['modprobe', 'wireguard'], {
    cwd: '/',
    env: { PATH: process.env.PATH },
    timeoutMs: 10_000,
  });
  return (await loaded()) ? 'kernel' : 'wireguard-go';
}
