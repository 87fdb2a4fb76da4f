// known_hosts reading checked against OpenSSH's own tools: ssh-keygen writes the keys, hashes
// entries (-H) and finds hosts (-F); our lookup must agree with it.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadHostKeyFingerprint,
  entryNamesHost,
  hostKeyFingerprint,
  HostKeyFingerprintMismatch,
  HostKeyMismatch,
  HostKeyRevoked,
  HostKeyUnknown,
  knownHostsName,
  knownKeyAlgorithms,
  parseHostKeyFingerprint,
  parseKnownHosts,
  readKnownHosts,
  rememberHostKey,
  verifyHostKey,
  type HostKey,
} from '../../src/ssh/host-keys.ts';

let dir: string;
let key: HostKey;
let other: HostKey;
let fingerprint: string;

function newKey(name: string): HostKey {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const [type, base64] = execFileSync('cat', [`${file}.pub`], { encoding: 'utf8' }).split(' ');
  return { type: type!, base64: base64! };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flotilla-hostkeys-'));
  key = newKey('server');
  other = newKey('other');
  fingerprint = execFileSync('ssh-keygen', ['-lf', path.join(dir, 'server.pub')], {
    encoding: 'utf8',
  }).split(' ')[1]!;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const check = (knownHosts: string, extra: { fingerprint?: string; port?: number } = {}) =>
  verifyHostKey({
    host: '203.0.113.20',
    port: extra.port ?? 22,
    key,
    knownHosts: parseKnownHosts(knownHosts),
    knownHostsFile: '/k',
    ...(extra.fingerprint ? { fingerprint: extra.fingerprint } : {}),
  });

const failureOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error;
  }
};

describe('host key fingerprints', () => {
  it('match what ssh-keygen -lf prints', () => {
    expect(hostKeyFingerprint(key)).toBe(fingerprint);
  });

  it('parse with or without padding, and refuse anything else with a hint', () => {
    expect(parseHostKeyFingerprint(fingerprint)).toBe(fingerprint);
    expect(parseHostKeyFingerprint(`${fingerprint}=`)).toBe(fingerprint);
    for (const bad of ['', 'SHA256:short', fingerprint.replace('SHA256:', 'MD5:'), 'aa:bb:cc']) {
      const failure = failureOf(() => parseHostKeyFingerprint(bad));
      expect(failure).toBeInstanceOf(BadHostKeyFingerprint);
      expect((failure as BadHostKeyFingerprint).hint).toContain('ssh-keygen -lf');
    }
  });
});

describe('verifyHostKey', () => {
  it('accepts a known key (plain, in a pattern list, with a wildcard)', () => {
    expect(check(`203.0.113.20 ${key.type} ${key.base64}\n`)).toBe('known_hosts');
    expect(check(`web,203.0.113.20 ${key.type} ${key.base64} comment\n`)).toBe('known_hosts');
    expect(check(`203.0.113.* ${key.type} ${key.base64}\n`)).toBe('known_hosts');
  });

  it('files other ports under [host]:port', () => {
    const line = `[203.0.113.20]:2222 ${key.type} ${key.base64}\n`;
    expect(check(line, { port: 2222 })).toBe('known_hosts');
    expect(failureOf(() => check(line))).toBeInstanceOf(HostKeyUnknown);
  });

  it('refuses an unknown key, showing its fingerprint and how to go on', () => {
    const failure = failureOf(() => check('')) as HostKeyUnknown;
    expect(failure).toBeInstanceOf(HostKeyUnknown);
    expect(failure.message).toContain(fingerprint);
    expect(failure.hint).toContain(`--host-key ${fingerprint}`);
  });

  it('refuses a key other than the known one, loudly, even with its right fingerprint', () => {
    const line = `203.0.113.20 ${other.type} ${other.base64}\n`;
    for (const extra of [{}, { fingerprint }]) {
      const failure = failureOf(() => check(line, extra)) as HostKeyMismatch;
      expect(failure).toBeInstanceOf(HostKeyMismatch);
      expect(failure.message).toContain('MAN-IN-THE-MIDDLE');
      expect(failure.hint).toContain('ssh-keygen -R');
    }
  });

  it('a negated pattern does not name the host', () => {
    const line = `203.0.113.*,!203.0.113.20 ${other.type} ${other.base64}\n`;
    expect(failureOf(() => check(line))).toBeInstanceOf(HostKeyUnknown);
  });

  it('accepts an unknown host by its right fingerprint only', () => {
    expect(check('', { fingerprint })).toBe('fingerprint');
    const wrong = hostKeyFingerprint(other);
    expect(failureOf(() => check('', { fingerprint: wrong }))).toBeInstanceOf(
      HostKeyFingerprintMismatch,
    );
  });

  it('refuses a @revoked key whatever else vouches for it', () => {
    const known = `@revoked * ${key.type} ${key.base64}\n203.0.113.20 ${key.type} ${key.base64}\n`;
    expect(failureOf(() => check(known, { fingerprint }))).toBeInstanceOf(HostKeyRevoked);
  });

  it('asks first for the key types known_hosts holds for the host', () => {
    const entries = parseKnownHosts(
      `203.0.113.20 ssh-rsa AAAA\n203.0.113.9 ecdsa-sha2-nistp256 AAAA\n@revoked 203.0.113.20 ssh-ed25519 AAAA\n`,
    );
    expect(knownKeyAlgorithms(entries, '203.0.113.20')).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
  });
});

describe('known_hosts files', () => {
  it('find hashed entries as ssh-keygen -H writes them', async () => {
    const file = path.join(dir, 'hashed');
    await writeFile(
      file,
      `203.0.113.20 ${key.type} ${key.base64}\n[203.0.113.20]:2222 ${key.type} ${key.base64}\n`,
    );
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const entries = await readKnownHosts(file);
    expect(entries.every((entry) => entry.hosts.startsWith('|1|'))).toBe(true);
    expect(entries.filter((entry) => entryNamesHost(entry, '203.0.113.20'))).toHaveLength(1);
    expect(
      entries.filter((entry) => entryNamesHost(entry, knownHostsName('203.0.113.20', 2222))),
    ).toHaveLength(1);
    expect(entries.some((entry) => entryNamesHost(entry, '203.0.113.21'))).toBe(false);
  });

  it('a missing file has no entries', async () => {
    expect(await readKnownHosts(path.join(dir, 'missing', 'known_hosts'))).toEqual([]);
  });

  it('rememberHostKey writes lines ssh-keygen -F finds, creating the file 0600', async () => {
    const file = path.join(dir, 'new', '.ssh', 'known_hosts');
    await rememberHostKey(file, '203.0.113.20', 22, key.type, key.base64);
    await rememberHostKey(file, '2001:DB8::1', 2222, key.type, key.base64);
    await rememberHostKey(file, '2001:db8::2', 22, key.type, key.base64);
    for (const name of ['203.0.113.20', '[2001:db8::1]:2222', '2001:db8::2'])
      expect(execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' })).toContain(
        key.base64.trim(),
      );
    expect(execFileSync('stat', ['-c', '%a', file], { encoding: 'utf8' }).trim()).toBe('600');
    const entries = parseKnownHosts(await readFile(file, 'utf8'));
    expect(check(await readFile(file, 'utf8'))).toBe('known_hosts');
    expect(entries).toHaveLength(3);
  });
});
