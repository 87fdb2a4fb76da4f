// The Tailscale mesh provider (`mesh.provider: tailscale`): Tailscale, not Flotilla, hands out
// the mesh addresses, so they are read from `tailscale status --json` and matched to the
// stack's nodes — by node name (HostName or MagicDNS label), by the ACL tag
// `tag:flotilla-<node>`, or by the node's `address` being the device's HostName/DNSName.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';
import { nodeTag } from '../plan/tailscale-acl.ts';

const execFileAsync = promisify(execFile);

const STATUS_TIMEOUT_MS = 5_000;

export class TailscaleStatusError extends Error {}

export interface TailscaleDevice {
  /** The OS hostname the device registered with (`tailscale up --hostname`). */
  hostName: string;
  /** MagicDNS name without the trailing dot, e.g. salem-storage.tail1234.ts.net; '' if none. */
  dnsName: string;
  /** Its 100.64.0.0/10 address; undefined when the device has none (IPv6-only tailnet). */
  ipv4: string | undefined;
  online: boolean;
  tags: string[];
  /** The device `tailscale status` ran on. */
  self: boolean;
}

// Only the fields used are declared; z.object (not strict) so newer tailscale versions that add
// fields still parse. Tailscale emits `null` for empty lists and maps, and omits `Tags` when empty.
const peerSchema = z.object({
  HostName: z.string(),
  DNSName: z.string().default(''),
  TailscaleIPs: z.array(z.string()).nullish(),
  Online: z.boolean().default(false),
  Tags: z.array(z.string()).nullish(),
  OS: z.string().optional(),
});

const statusSchema = z.object({
  BackendState: z.string(),
  MagicDNSSuffix: z.string().optional(),
  TailscaleIPs: z.array(z.string()).nullish(),
  Self: peerSchema.nullish(),
  Peer: z.record(z.string(), peerSchema).nullish(),
});

const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;

function toDevice(peer: z.output<typeof peerSchema>, self: boolean): TailscaleDevice {
  return {
    hostName: peer.HostName,
    dnsName: peer.DNSName.replace(/\.$/, ''),
    ipv4: (peer.TailscaleIPs ?? []).find((ip) => IPV4.test(ip)),
    online: self ? true : peer.Online,
    tags: peer.Tags ?? [],
    self,
  };
}

/** Devices from `tailscale status --json` output (already JSON-parsed), this device first. */
export function parseTailscaleStatus(json: unknown): TailscaleDevice[] {
  const parsed = statusSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new TailscaleStatusError(
      `unexpected \`tailscale status --json\` output${where}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const status = parsed.data;
  if (status.BackendState !== 'Running') {
    throw new TailscaleStatusError(
      `tailscale is not logged in: run \`tailscale up\` (backend state ${status.BackendState})`,
    );
  }
  if (!status.Self)
    throw new TailscaleStatusError('`tailscale status --json` output has no Self entry');
  return [
    toDevice(status.Self, true),
    ...Object.values(status.Peer ?? {}).map((peer) => toDevice(peer, false)),
  ];
}

export type TailscaleMatch = 'name' | 'tag' | 'hostname';

export interface TailscaleMeshAddresses {
  /** Node name → tailnet IPv4, for every node a device was found for (offline ones too). */
  addresses: Record<string, string>;
  /** How each mapped node was matched. */
  matchedBy: Record<string, TailscaleMatch>;
  /** Mapped nodes whose device is currently offline in the tailnet. */
  offline: string[];
  /** Nodes no device (with an IPv4) was found for, in declaration order. */
  missing: string[];
  /** What to do about each missing node. */
  hints: Record<string, string>;
}

export interface TailscaleMeshOptions {
  /** The Tailscale hostname expected for a node; the node name by default. */
  hostnameOf?: (node: string) => string;
}

const lower = (text: string) => text.toLowerCase();
const dnsLabel = (device: TailscaleDevice) => lower(device.dnsName.split('.')[0] ?? '');

/** Among several candidates, online ones win; still several ⇒ ambiguous (undefined, true). */
function pick(candidates: TailscaleDevice[]): [TailscaleDevice | undefined, boolean] {
  if (candidates.length <= 1) return [candidates[0], false];
  const online = candidates.filter((device) => device.online);
  if (online.length === 1) return [online[0], false];
  return [undefined, true];
}

/**
 * Maps stack nodes to tailnet IPv4 addresses. A node matches, in this order: a device whose
 * HostName or MagicDNS label is `hostnameOf(node)`; a device tagged `tag:flotilla-<node>`; a
 * device whose HostName or MagicDNS name equals the node's `address`.
 */
export function tailscaleMeshAddresses(
  nodes: Record<string, { address: string }>,
  devices: readonly TailscaleDevice[],
  options: TailscaleMeshOptions = {},
): TailscaleMeshAddresses {
  const hostnameOf = options.hostnameOf ?? ((node: string) => node);
  const usable = devices.filter((device) => device.ipv4 !== undefined);
  const result: TailscaleMeshAddresses = {
    addresses: {},
    matchedBy: {},
    offline: [],
    missing: [],
    hints: {},
  };
  for (const [node, { address }] of Object.entries(nodes)) {
    const hostname = lower(hostnameOf(node));
    const tag = nodeTag(node);
    const addr = lower(address).replace(/\.$/, '');
    const rules: [TailscaleMatch, (device: TailscaleDevice) => boolean][] = [
      ['name', (d) => lower(d.hostName) === hostname || dnsLabel(d) === hostname],
      ['tag', (d) => d.tags.includes(tag)],
      ['hostname', (d) => lower(d.hostName) === addr || lower(d.dnsName) === addr],
    ];
    let found: [TailscaleDevice, TailscaleMatch] | undefined;
    let ambiguous: TailscaleMatch | undefined;
    for (const [how, matches] of rules) {
      const [device, isAmbiguous] = pick(usable.filter(matches));
      if (device) {
        found = [device, how];
        break;
      }
      if (isAmbiguous) ambiguous ??= how;
    }
    if (found) {
      const [device, how] = found;
      result.addresses[node] = device.ipv4!;
      result.matchedBy[node] = how;
      if (!device.online) result.offline.push(node);
      continue;
    }
    result.missing.push(node);
    const withoutIpv4 = devices.some(
      (d) => d.ipv4 === undefined && rules.some(([, matches]) => matches(d)),
    );
    result.hints[node] = ambiguous
      ? `several tailnet devices match node ${node} by ${ambiguous}: give it a unique hostname or tag only one device ${tag}`
      : withoutIpv4
        ? `the tailnet device for node ${node} has no IPv4 address: enable IPv4 for it in the tailnet`
        : `no tailnet device for node ${node}: run \`tailscale up --hostname ${hostnameOf(node)}\` on it, or tag it ${tag}`;
  }
  return result;
}

/** Runs `tailscale status --json` on this machine and parses it. Needs a joined tailnet. */
export async function readTailscaleStatus(binary = 'tailscale'): Promise<TailscaleDevice[]> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(binary, ['status', '--json'], {
      timeout: STATUS_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
    if (failure.code === 'ENOENT')
      throw new TailscaleStatusError(
        `${binary} not found: install Tailscale (https://tailscale.com/download) for mesh.provider tailscale`,
      );
    if (failure.killed)
      throw new TailscaleStatusError(
        `\`${binary} status --json\` did not answer within ${STATUS_TIMEOUT_MS / 1000} s: is tailscaled running?`,
      );
    // `tailscale status --json` exits non-zero when logged out yet still prints the JSON.
    const printed = (failure as { stdout?: string }).stdout;
    if (printed && printed.trim().startsWith('{')) return parseTailscaleStatus(parseJson(printed));
    const detail = (failure.stderr ?? '').trim() || failure.message;
    throw new TailscaleStatusError(`\`${binary} status --json\` failed: ${detail}`);
  }
  return parseTailscaleStatus(parseJson(stdout));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TailscaleStatusError('`tailscale status --json` did not print JSON');
  }
}
