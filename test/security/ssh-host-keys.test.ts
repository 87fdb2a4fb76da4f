// The attacks on `node add`'s SSH connection, for real: OpenSSH servers in a lab namespace
// (lab-sshd.ts), each login attempt with a command that would leave a file behind in the
// server's /var/lib/flotilla (a temp dir of this test). A server whose host key is not the
// one known_hosts holds (a man in the middle on the same address), an unknown server with
// no fingerprint, a wrong --host-key and a @revoked key are refused before any login: the
// file never appears and the server logs no accepted key. A hashed entry and the right
// fingerprint are accepted, which shows the same command does leave the file. Needs root.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDownState, labUp, type LabState } from '../../src/lab/lab.ts';
import {
  HostKeyFingerprintMismatch,
  HostKeyMismatch,
  HostKeyRevoked,
  HostKeyUnknown,
  rememberHostKey,
} from '../../src/ssh/host-keys.ts';
import { RemoteShell } from '../../src/ssh/remote-shell.ts';
import { startLabSshd, type LabSshd } from '../helpers/lab-sshd.ts';
import { netnsSocket } from '../helpers/netns-socket.ts';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('SSH host key checks against real servers', { timeout: 60_000 }, () => {
  let dir: string;
  let lab: LabState | undefined;
  let server: LabSshd | undefined;
  let attempt = 0;

  async function startServer(): Promise<LabSshd> {
    const varlib = path.join(dir, `varlib-${randomBytes(3).toString('hex')}`);
    await mkdir(varlib);
    return startLabSshd({
      namespace: lab!.nodes[0]!.namespace,
      address: lab!.nodes[0]!.address,
      mounts: { '/var/lib/flotilla': varlib },
    });
  }

  /**
   * Connects to `to` as root with its user key (so only the host key check can refuse) and
   * runs a command that leaves a file in its /var/lib/flotilla. Returns whether it ran, and
   * the refusal if any.
   */
  async function tryCommand(
    to: LabSshd,
    knownHosts: string,
    hostKeyFingerprint?: string,
  ): Promise<{ ran: boolean; error?: unknown }> {
    const knownHostsFile = path.join(dir, `known_hosts-${++attempt}`);
    await writeFile(knownHostsFile, knownHosts);
    const marker = `ran-${attempt}`;
    let error: unknown;
    try {
      const shell = await RemoteShell.connect({
        target: { user: 'root', host: to.address, port: to.port },
        identityFile: to.userKeyFile,
        knownHostsFile,
        ...(hostKeyFingerprint ? { hostKeyFingerprint } : {}),
        sock: netnsSocket(lab!.internetNamespace, to.address, to.port),
      });
      await shell.runOk(['touch', `/var/lib/flotilla/${marker}`]);
      await shell.close();
    } catch (caught) {
      error = caught;
    }
    return { ran: existsSync(path.join(to.mounts['/var/lib/flotilla']!, marker)), error };
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-ssh-sec-'));
    process.env.FLOTILLA_LAB_DIR = path.join(dir, 'labs');
    lab = await labUp(`k${randomBytes(3).toString('hex')}`, 1);
    server = await startServer();
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    if (lab) await labDownState(lab);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);
  /** The server's known_hosts line (`address type base64`). */
  const line = (to: LabSshd) => `${to.address} ${to.hostKey.type} ${to.hostKey.base64}\n`;

  it('runs the command when known_hosts holds the server key (the control)', async () => {
    const { ran, error } = await tryCommand(server!, line(server!));
    expect(error).toBeUndefined();
    expect(ran).toBe(true);
  });

  it('accepts a hashed known_hosts entry (ssh-keygen -H)', async () => {
    const file = path.join(dir, 'hashed');
    await writeFile(file, line(server!));
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const hashed = await readFile(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    expect(hashed).not.toContain(server!.address);
    const { ran, error } = await tryCommand(server!, hashed);
    expect(error).toBeUndefined();
    expect(ran).toBe(true);
  });

  it('refuses an unknown server without a fingerprint, showing its real one', async () => {
    const { ran, error } = await tryCommand(server!, '');
    expect(error).toBeInstanceOf(HostKeyUnknown);
    expect((error as HostKeyUnknown).message).toContain(server!.hostKeyFingerprint);
    expect((error as HostKeyUnknown).hint).toContain(`--host-key ${server!.hostKeyFingerprint}`);
    expect(ran).toBe(false);
  });

  it('accepts an unknown server by its right fingerprint, and can remember it', async () => {
    const { ran, error } = await tryCommand(server!, '', server!.hostKeyFingerprint);
    expect(error).toBeUndefined();
    expect(ran).toBe(true);
    const file = path.join(dir, 'remembered');
    await rememberHostKey(file, server!.address, 22, server!.hostKey.type, server!.hostKey.base64);
    const again = await tryCommand(server!, await readFile(file, 'utf8'));
    expect(again.error).toBeUndefined();
    expect(again.ran).toBe(true);
  });

  it('refuses a wrong --host-key fingerprint', async () => {
    const wrong = `SHA256:${Buffer.alloc(32, 7).toString('base64').replace(/=+$/, '')}`;
    const { ran, error } = await tryCommand(server!, '', wrong);
    expect(error).toBeInstanceOf(HostKeyFingerprintMismatch);
    expect((error as Error).message).toContain(server!.hostKeyFingerprint);
    expect(ran).toBe(false);
  });

  it('refuses a @revoked key, even with its known_hosts line and fingerprint', async () => {
    const known = `@revoked * ${server!.hostKey.type} ${server!.hostKey.base64}\n${line(server!)}`;
    const { ran, error } = await tryCommand(server!, known, server!.hostKeyFingerprint);
    expect(error).toBeInstanceOf(HostKeyRevoked);
    expect(ran).toBe(false);
  });

  it('refuses a man in the middle on the known address: no login, no command', async () => {
    const known = line(server!);
    const genuine = server!.hostKeyFingerprint;
    // The attacker takes the address over with a server of its own (another host key).
    await server!.stop();
    server = await startServer();
    expect(server.hostKeyFingerprint).not.toBe(genuine);
    for (const fingerprint of [undefined, server.hostKeyFingerprint]) {
      const { ran, error } = await tryCommand(server, known, fingerprint);
      expect(error).toBeInstanceOf(HostKeyMismatch);
      expect((error as Error).message).toContain('MAN-IN-THE-MIDDLE');
      expect((error as Error).message).toContain(server.hostKeyFingerprint);
      expect(ran).toBe(false);
    }
    // The client left before authenticating: the attacker's server never saw a login.
    expect(server.log()).not.toMatch(/Accepted publickey/);
    // The same attempt with this server's own key does run: the refusal above is the check's.
    expect((await tryCommand(server, line(server))).ran).toBe(true);
    expect(server.log()).toMatch(/Accepted publickey/);
  });
});
