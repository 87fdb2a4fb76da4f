// Host key verification, as strict as OpenSSH's StrictHostKeyChecking=yes: a server is
// trusted only through a known_hosts entry (plain or hashed, `[host]:port` for other ports)
// or a fingerprint the operator got from the server itself (`ssh-keygen -lf` on it). An
// unknown key is refused (showing its fingerprint to check), a different one is refused
// loudly (a man in the middle, or a reinstalled server), and a @revoked key always.
import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { SshError } from './ssh-error.ts';

/** A public host key: its algorithm name and its wire blob in base64, as known_hosts has it. */
export interface HostKey {
  type: string;
  base64: string;
}

/** No known_hosts entry and no fingerprint: nothing vouches for this server. */
export class HostKeyUnknown extends SshError {}
/** The server's key is not the one known_hosts holds for it. Never proceed. */
export class HostKeyMismatch extends SshError {}
/** The server's key is not the one given with --host-key. Never proceed. */
export class HostKeyFingerprintMismatch extends SshError {}
/** The server's key is marked @revoked in known_hosts. */
export class HostKeyRevoked extends SshError {}
/** A --host-key value that is no `SHA256:…` fingerprint. */
export class BadHostKeyFingerprint extends SshError {}

export interface KnownHostsEntry {
  marker?: 'revoked' | 'cert-authority';
  /** The host field: comma-separated patterns, or one `|1|salt|hash`. */
  hosts: string;
  type: string;
  base64: string;
  /** 1-based line in the file, for messages. */
  line: number;
}

export function defaultKnownHostsFile(): string {
  return path.join(homedir(), '.ssh', 'known_hosts');
}

/** The key a server sent (its wire blob): the algorithm name is the blob's first string. */
export function hostKeyFromBlob(blob: Buffer): HostKey {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (length < 1 || 4 + length > blob.length) throw new Error('malformed host key blob');
  return { type: blob.toString('latin1', 4, 4 + length), base64: blob.toString('base64') };
}

/** `SHA256:…` as `ssh-keygen -lf` prints it (base64 without padding). */
export function hostKeyFingerprint(key: HostKey): string {
  const digest = createHash('sha256').update(Buffer.from(key.base64, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** A --host-key value, checked and without base64 padding. */
export function parseHostKeyFingerprint(text: string): string {
  const match = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(text.trim());
  if (!match)
    throw new BadHostKeyFingerprint(
      `invalid host key fingerprint ${JSON.stringify(text)}`,
      'give the SHA256 fingerprint as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the server, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
    );
  return `SHA256:${match[1]}`;
}

/** The name known_hosts files a host under: `host` on port 22, else `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/** known_hosts text as entries; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) return;
    let marker: KnownHostsEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    } else if (fields[0]!.startsWith('@')) return;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64) return;
    entries.push({ ...(marker ? { marker } : {}), hosts, type, base64, line: index + 1 });
  });
  return entries;
}

function globMatches(pattern: string, name: string): boolean {
  const source = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${source}$`).test(name);
}

/** Whether an entry's host field names `name` (from knownHostsName): hashed or patterns. */
export function entryNamesHost(entry: KnownHostsEntry, name: string): boolean {
  if (entry.hosts.startsWith('|1|')) {
    const [, , salt, hash] = entry.hosts.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const pattern of entry.hosts.split(',')) {
    if (pattern.startsWith('!')) {
      if (globMatches(pattern.slice(1), name)) return false;
    } else if (globMatches(pattern, name)) matched = true;
  }
  return matched;
}

/** A known_hosts file's entries; a missing file has none. */
export async function readKnownHosts(file: string): Promise<KnownHostsEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function sameKey(entry: KnownHostsEntry, key: HostKey): boolean {
  return (
    entry.type === key.type &&
    Buffer.from(entry.base64, 'base64').equals(Buffer.from(key.base64, 'base64'))
  );
}

/** The key algorithms a client should ask for so the server shows a key known_hosts holds. */
export function knownKeyAlgorithms(entries: readonly KnownHostsEntry[], name: string): string[] {
  const algorithms: string[] = [];
  for (const entry of entries)
    if (entry.marker === undefined && entryNamesHost(entry, name))
      algorithms.push(
        ...(entry.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [entry.type]),
      );
  return [...new Set(algorithms)];
}

export interface HostKeyCheck {
  host: string;
  port: number;
  /** The key the server presented. */
  key: HostKey;
  knownHosts: readonly KnownHostsEntry[];
  /** Named in messages. */
  knownHostsFile: string;
  /** An expected fingerprint (already parsed), from --host-key. */
  fingerprint?: string;
}

/** What vouched for a verified key. */
export type HostKeyTrust = 'known_hosts' | 'fingerprint';

/** Accepts the server's key or throws why not; see the file's header for the rules. */
export function verifyHostKey(check: HostKeyCheck): HostKeyTrust {
  const { key, knownHostsFile } = check;
  const name = knownHostsName(check.host, check.port);
  const actual = hostKeyFingerprint(key);
  const shown = `${check.host}${check.port === 22 ? '' : ` port ${check.port}`}`;
  const revoked = check.knownHosts.find(
    (entry) => entry.marker === 'revoked' && sameKey(entry, key),
  );
  if (revoked)
    throw new HostKeyRevoked(
      `the host key of ${shown} (${key.type} ${actual}) is marked @revoked in ${knownHostsFile} (line ${revoked.line}): refusing to connect`,
      'a revoked key belongs to a compromised or retired server: give the server a new host key and check its fingerprint on the server itself',
    );
  const entries = check.knownHosts.filter(
    (entry) => entry.marker === undefined && entryNamesHost(entry, name),
  );
  if (entries.length > 0 && !entries.some((entry) => sameKey(entry, key)))
    throw new HostKeyMismatch(
      `WARNING: the host key of ${shown} has changed: POSSIBLE MAN-IN-THE-MIDDLE ATTACK. The server presented ${key.type} ${actual}, which is not the key ${knownHostsFile} holds for it (line ${entries.map((entry) => entry.line).join(', ')}). Nothing was sent to it.`,
      `if you reinstalled this server, check its new fingerprint on the server itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), remove the old entry with \`ssh-keygen -R '${name}' -f ${knownHostsFile}\` and run again with --host-key SHA256:…; otherwise do not connect`,
    );
  if (check.fingerprint !== undefined && check.fingerprint !== actual)
    throw new HostKeyFingerprintMismatch(
      `the host key of ${shown} is ${key.type} ${actual}, not ${check.fingerprint} as given with --host-key: possible man-in-the-middle attack or a mistyped fingerprint. Nothing was sent to it.`,
      'check the fingerprint on the server itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and give that one with --host-key',
    );
  if (entries.length > 0) return 'known_hosts';
  if (check.fingerprint !== undefined) return 'fingerprint';
  throw new HostKeyUnknown(
    `the authenticity of ${shown} can't be established: it is not in ${knownHostsFile}. Its ${key.type} key fingerprint is ${actual}`,
    `check that this is the fingerprint on the server itself (run \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` there, e.g. in your provider's web console), then run again with --host-key ${actual}`,
  );
}

/** Appends a known_hosts line for `host` (`[host]:port` off 22) that `ssh-keygen -F` finds. */
export async function rememberHostKey(
  file: string,
  host: string,
  port: number,
  keyType: string,
  keyBase64: string,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readFile(file, 'utf8').catch(() => '');
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  const line = `${knownHostsName(host, port)} ${keyType} ${keyBase64}\n`;
  await appendFile(file, `${separator}${line}`, { mode: 0o600 });
}
