// The WireGuard mesh driver: one userspace interface (wireguard-go) per node, optionally in a
// network namespace (the lab). wireguard-go runs in the foreground (`-f`) as our child, so its
// PID is known exactly (`ip netns exec` execs into it: same PID) and is recorded in a pid file;
// it is stopped by that PID only — after checking /proc that the PID is still that
// wireguard-go — never by name. Its control socket lives in /var/run/wireguard/<name>.sock,
// shared by every namespace: interface names must be unique on the whole machine.
import { execFile, spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isAlive } from '../system/proc.ts';

const execFileAsync = promisify(execFile);

export const WG_SOCKET_DIR = '/var/run/wireguard';
const IFNAME = /^[A-Za-z0-9_=+.-]{1,15}$/;
const NETNS = /^[A-Za-z0-9_.-]{1,64}$/;
const START_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 3_000;

export interface WireGuardPeer {
  publicKey: string;
  /** host:port, e.g. 203.0.113.12:51820. */
  endpoint?: string;
  /** CIDRs routed to this peer, e.g. ['100.96.0.2/32']. */
  allowedIps: string[];
  persistentKeepalive?: number;
}

export interface InterfaceSpec {
  /** Network namespace to run in; the current one when absent. */
  netns?: string;
  /** Interface name, ≤ 15 characters, unique on the machine (socket dir is shared). */
  name: string;
  privateKeyFile: string;
  /** The node's mesh address with prefix, e.g. 100.96.0.1/16 (or /32 plus `routes`). */
  address: string;
  /** Extra CIDRs routed into the interface, e.g. ['100.96.0.0/16'] with a /32 address. */
  routes?: string[];
  listenPort: number;
  peers: WireGuardPeer[];
  /** Where the pid and log files go; default $FLOTILLA_MESH_DIR or /var/lib/flotilla/mesh. */
  stateDir?: string;
}

export interface InterfaceRef {
  netns?: string;
  name: string;
  stateDir?: string;
}

export function meshStateDir(stateDir?: string): string {
  return stateDir ?? process.env.FLOTILLA_MESH_DIR ?? '/var/lib/flotilla/mesh';
}

export function pidFile(ref: InterfaceRef): string {
  return path.join(meshStateDir(ref.stateDir), `${ref.name}.pid`);
}

export function socketPath(name: string): string {
  return path.join(WG_SOCKET_DIR, `${name}.sock`);
}

function checkRef(ref: InterfaceRef): void {
  if (!IFNAME.test(ref.name))
    throw new Error(`invalid WireGuard interface name "${ref.name}" (1–15 characters)`);
  if (ref.netns !== undefined && !NETNS.test(ref.netns))
    throw new Error(`invalid network namespace name "${ref.netns}"`);
}

/** argv run in the namespace when one is given. */
function inNetns(netns: string | undefined, argv: string[]): [string, string[]] {
  if (netns === undefined) return [argv[0]!, argv.slice(1)];
  return ['ip', ['netns', 'exec', netns, ...argv]];
}

async function run(netns: string | undefined, argv: string[]): Promise<string> {
  const [file, args] = inNetns(netns, argv);
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: 15_000 });
    return stdout;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    const detail = (failure.stderr ?? '').trim() || failure.message;
    throw new Error(`${argv.join(' ')}${netns ? ` (netns ${netns})` : ''}: ${detail}`);
  }
}

// ---- the wireguard-go process -------------------------------------------------------------

/** Alive and not a zombie (a reparented zombie may never be reaped in a container). */
export async function isProcessAlive(pid: number): Promise<boolean> {
  return isAlive(pid);
}

/** True when `pid` is (still) the wireguard-go serving `name`: guards against PID reuse. */
async function isOurDaemon(pid: number, name: string): Promise<boolean> {
  if (!(await isProcessAlive(pid))) return false;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return path.basename(argv[0] ?? '') === 'wireguard-go' && argv.includes(name);
  } catch {
    return false;
  }
}

/** The recorded PID of the interface's wireguard-go, when it is still running. */
export async function daemonPid(ref: InterfaceRef): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(pidFile(ref), 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return (await isOurDaemon(pid, ref.name)) ? pid : undefined;
}

async function isSocket(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isSocket();
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startDaemon(spec: InterfaceSpec): Promise<number> {
  const dir = meshStateDir(spec.stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A stale socket from a crashed daemon would make us think the new one is ready.
  await rm(socketPath(spec.name), { force: true });
  const log = await open(path.join(dir, `${spec.name}.log`), 'a', 0o600);
  const [file, args] = inNetns(spec.netns, ['wireguard-go', '-f', spec.name]);
  let exited: string | undefined;
  let pid: number | undefined;
  try {
    const child = spawn(file, args, {
      detached: true, // its own process group: not killed with a terminal's foreground group
      stdio: ['ignore', log.fd, log.fd],
      env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
    });
    child.on('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
    child.on('error', (error) => (exited = error.message));
    child.unref();
    pid = child.pid;
  } finally {
    await log.close();
  }
  if (pid === undefined) throw new Error(`could not start wireguard-go for ${spec.name}`);
  await writeFile(pidFile(spec), `${pid}\n`, { mode: 0o600 });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await isSocket(socketPath(spec.name)))) {
    if (exited !== undefined || Date.now() > deadline) {
      await stopPid(pid, spec.name);
      throw new Error(
        `wireguard-go for ${spec.name} ${exited ?? 'did not open its socket in time'}; ` +
          `see ${path.join(dir, `${spec.name}.log`)}`,
      );
    }
    await sleep(50);
  }
  return pid;
}

async function stopPid(pid: number, name: string): Promise<void> {
  if (!(await isOurDaemon(pid, name))) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (await isProcessAlive(pid)) {
    if (Date.now() > deadline) {
      if (await isOurDaemon(pid, name)) process.kill(pid, 'SIGKILL');
      await sleep(100);
      break;
    }
    await sleep(50);
  }
}

// ---- up / down -----------------------------------------------------------------------------

/** A kernel WireGuard link: `ip -d` names its kind; a wireguard-go link is a tun device. */
async function isKernelLink(ref: InterfaceRef): Promise<boolean> {
  const details = await run(ref.netns, ['ip', '-d', '-o', 'link', 'show', 'dev', ref.name]).catch(
    () => '',
  );
  return /\swireguard\s/.test(details);
}

/** Kernel WireGuard when the module is there; false (nothing created) when it is not. */
async function addKernelLink(ref: InterfaceRef): Promise<boolean> {
  return run(ref.netns, ['ip', 'link', 'add', 'dev', ref.name, 'type', 'wireguard']).then(
    () => true,
    () => false,
  );
}

/** Whether the interface is served: by the kernel, or by its recorded wireguard-go. */
export async function interfaceRunning(ref: InterfaceRef): Promise<boolean> {
  return (await daemonPid(ref)) !== undefined || (await isKernelLink(ref));
}

/**
 * Brings the interface to the spec, idempotently: uses kernel WireGuard when the module is
 * loaded, else starts wireguard-go unless its recorded PID still runs; sets key and port,
 * replaces the address, and makes the peer set exactly `spec.peers` (peers not listed are
 * removed; listed ones get their allowed-ips replaced). Returns the wireguard-go PID, or
 * undefined for a kernel interface.
 */
export async function bringUpInterface(spec: InterfaceSpec): Promise<number | undefined> {
  checkRef(spec);
  let pid = await daemonPid(spec);
  const kernel = pid === undefined && ((await isKernelLink(spec)) || (await addKernelLink(spec)));
  if (!kernel && (pid === undefined || !(await isSocket(socketPath(spec.name)))))
    pid = await startDaemon(spec);
  const ns = spec.netns;
  // One `wg syncconf` for key, port and the whole peer set, whatever the mesh's size: a
  // command per peer made every join cost each node N process spawns at once. The config
  // goes through a 0600 file beside the pid file (wg cannot open a socket as its stdin).
  const privateKey = (await readFile(spec.privateKeyFile, 'utf8')).trim();
  const configFile = path.join(meshStateDir(spec.stateDir), `${spec.name}.conf`);
  await mkdir(path.dirname(configFile), { recursive: true, mode: 0o700 });
  await writeFile(configFile, wgConfig(spec, privateKey), { mode: 0o600 });
  try {
    await run(ns, ['wg', 'syncconf', spec.name, configFile]);
  } finally {
    await rm(configFile, { force: true });
  }
  await run(ns, ['ip', 'address', 'replace', spec.address, 'dev', spec.name]);
  await run(ns, ['ip', 'link', 'set', spec.name, 'up']);
  for (const route of spec.routes ?? [])
    await run(ns, ['ip', 'route', 'replace', route, 'dev', spec.name]);
  return pid;
}

const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const ENDPOINT = /^[A-Za-z0-9.:[\]-]+:\d{1,5}$/;
const CIDR = /^[0-9A-Fa-f.:]+\/\d{1,3}$/;

/**
 * The interface's config in `wg syncconf` form. Every value is checked first: the config is
 * line-based, so a newline in a key or endpoint could otherwise add lines of its own.
 */
export function wgConfig(spec: InterfaceSpec, privateKey: string): string {
  const checked = (value: string, pattern: RegExp, what: string): string => {
    if (!pattern.test(value))
      throw new Error(`invalid WireGuard ${what}: ${JSON.stringify(value)}`);
    return value;
  };
  checked(privateKey, WG_KEY, 'private key (in the key file)');
  const lines = ['[Interface]', `PrivateKey = ${privateKey}`, `ListenPort = ${spec.listenPort}`];
  for (const peer of spec.peers) {
    lines.push('', '[Peer]', `PublicKey = ${checked(peer.publicKey, WG_KEY, 'public key')}`);
    const allowed = peer.allowedIps.map((cidr) => checked(cidr, CIDR, 'allowed IP'));
    if (allowed.length > 0) lines.push(`AllowedIPs = ${allowed.join(', ')}`);
    if (peer.endpoint !== undefined)
      lines.push(`Endpoint = ${checked(peer.endpoint, ENDPOINT, 'endpoint')}`);
    lines.push(`PersistentKeepalive = ${peer.persistentKeepalive ?? 25}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Whether a link of that name exists (a kernel interface, or a wireguard-go tun device). */
export async function linkExists(ref: InterfaceRef): Promise<boolean> {
  const links = await run(ref.netns, ['ip', '-o', 'link', 'show']).catch(() => '');
  return links.split('\n').some((line) => line.split(/:\s+/)[1]?.split('@')[0] === ref.name);
}

/** The interfaces whose wireguard-go PID is recorded in the mesh dir (running or not). */
export async function recordedInterfaces(stateDir?: string): Promise<string[]> {
  const entries = await readdir(meshStateDir(stateDir)).catch(() => [] as string[]);
  return entries
    .filter((entry) => entry.endsWith('.pid'))
    .map((entry) => entry.slice(0, -'.pid'.length))
    .filter((name) => IFNAME.test(name));
}

/** Stops wireguard-go by its recorded PID, deletes the link and socket. Missing parts are fine. */
export async function bringDownInterface(ref: InterfaceRef): Promise<void> {
  checkRef(ref);
  const pid = await daemonPid(ref);
  if (pid !== undefined) await stopPid(pid, ref.name);
  // wireguard-go removes its link on SIGTERM; delete it anyway in case it was killed hard.
  if (await linkExists(ref))
    await run(ref.netns, ['ip', 'link', 'del', ref.name]).catch(() => undefined);
  await rm(socketPath(ref.name), { force: true });
  await rm(pidFile(ref), { force: true });
}

// ---- status ---------------------------------------------------------------------------------

export interface PeerStatus {
  publicKey: string;
  endpoint: string | undefined;
  allowedIps: string[];
  /** undefined when no handshake has completed yet. */
  latestHandshake: Date | undefined;
  rxBytes: number;
  txBytes: number;
  persistentKeepalive: number | undefined;
}

export interface InterfaceStatus {
  /** Never the private key: status output may be shown or logged. */
  publicKey: string | undefined;
  listenPort: number;
  peers: PeerStatus[];
}

const none = (value: string | undefined) =>
  value === undefined || value === '(none)' || value === 'off' ? undefined : value;

/** Parses `wg show <if> dump` (tab-separated: interface line, then one line per peer). */
export function parseWgDump(dump: string): InterfaceStatus {
  const lines = dump.split('\n').filter((line) => line !== '');
  const head = (lines[0] ?? '').split('\t');
  if (head.length < 4) throw new Error('unexpected `wg show dump` output');
  return {
    publicKey: none(head[1]),
    listenPort: Number(head[2]),
    peers: lines.slice(1).map((line) => {
      const [publicKey, , endpoint, allowed, handshake, rx, tx, keepalive] = line.split('\t');
      const seconds = Number(handshake);
      return {
        publicKey: publicKey ?? '',
        endpoint: none(endpoint),
        allowedIps: none(allowed)?.split(',') ?? [],
        latestHandshake: seconds > 0 ? new Date(seconds * 1000) : undefined,
        rxBytes: Number(rx ?? 0),
        txBytes: Number(tx ?? 0),
        persistentKeepalive: none(keepalive) === undefined ? undefined : Number(keepalive),
      };
    }),
  };
}

export async function interfaceStatus(ref: InterfaceRef): Promise<InterfaceStatus> {
  checkRef(ref);
  return parseWgDump(await run(ref.netns, ['wg', 'show', ref.name, 'dump']));
}
