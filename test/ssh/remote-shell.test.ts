// RemoteShell against a real OpenSSH server in a lab namespace (lab-sshd.ts), reached from
// this process through the lab's internet namespace: argv that a shell would mangle arrives
// intact, stdin round-trips, exit codes and stderr come back, the bind mounts keep the
// host's /opt clean, and each way a login fails is a typed error. Needs root.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDownState, labUp, type LabState } from '../../src/lab/lab.ts';
import {
  RemoteCommandFailed,
  RemoteCommandTimeout,
  RemoteShell,
  SshAuthRefused,
  SshConnectFailed,
  type ConnectOptions,
} from '../../src/ssh/remote-shell.ts';
import { SshKeyEncrypted } from '../../src/ssh/ssh-auth.ts';
import { generateKey, keyFingerprint, startLabSshd, type LabSshd } from '../helpers/lab-sshd.ts';
import { netnsSocket } from '../helpers/netns-socket.ts';
import { freePort } from '../helpers/ports.ts';

const isRoot = process.getuid?.() === 0;
const MARKER = `flotilla-ssh-test-${randomBytes(4).toString('hex')}`;

describe.skipIf(!isRoot)('RemoteShell against a real sshd', { timeout: 60_000 }, () => {
  let dir: string;
  let lab: LabState | undefined;
  let sshd: LabSshd | undefined;
  let shell: RemoteShell;

  /** A connection to the lab's sshd as root, with its user key and known_hosts unless told. */
  function connect(options: Partial<ConnectOptions> = {}): Promise<RemoteShell> {
    const server = sshd!;
    return RemoteShell.connect({
      target: { user: 'root', host: server.address, port: server.port },
      identityFile: server.userKeyFile,
      knownHostsFile: server.knownHostsFile,
      sock: netnsSocket(
        lab!.internetNamespace,
        server.address,
        options.target?.port ?? server.port,
      ),
      ...options,
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-ssh-'));
    process.env.FLOTILLA_LAB_DIR = path.join(dir, 'labs');
    await mkdir(path.join(dir, 'opt'));
    await mkdir(path.join(dir, 'varlib'));
    lab = await labUp(`s${randomBytes(3).toString('hex')}`, 1);
    sshd = await startLabSshd({
      namespace: lab.nodes[0]!.namespace,
      address: lab.nodes[0]!.address,
      mounts: { '/opt': path.join(dir, 'opt'), '/var/lib/flotilla': path.join(dir, 'varlib') },
    });
    shell = await connect();
  }, 60_000);

  afterAll(async () => {
    await shell?.close();
    await sshd?.stop();
    if (lab) await labDownState(lab);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('verified the host key ssh-keygen shows for the server, through known_hosts', () => {
    expect(shell.hostKeyFingerprint).toBe(sshd!.hostKeyFingerprint);
    expect(shell.hostKey).toEqual(sshd!.hostKey);
    expect(shell.hostKeyTrust).toBe('known_hosts');
  });

  it('passes every argv element through the remote shell intact', async () => {
    const awkward = [
      "it's",
      'two  words',
      '$HOME',
      '`id`',
      '$(id)',
      'line one\nline two',
      '',
      '; touch /opt/injected',
      '*',
      '"double"',
      'back\\slash',
      "'''",
      '-n',
    ];
    const result = await shell.runOk(['printf', '%s\\0', ...awkward]);
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(awkward);
    expect(existsSync(path.join(dir, 'opt', 'injected'))).toBe(false);
  });

  it('writes stdin to a file and reads it back, bytes and streams alike', async () => {
    const bytes = randomBytes(100_000);
    await shell.runOk(['dd', 'of=/var/lib/flotilla/blob', 'status=none'], { stdin: bytes });
    const back = await shell.runOk(['base64', '-w0', '/var/lib/flotilla/blob']);
    expect(back.stdout).toBe(bytes.toString('base64'));
    expect(await readFile(path.join(dir, 'varlib', 'blob'))).toEqual(bytes);

    const streamed = await shell.runOk(['tee', '/var/lib/flotilla/text'], {
      stdin: Readable.from(['first line\n', 'second: $HOME\n']),
    });
    expect(streamed.stdout).toBe('first line\nsecond: $HOME\n');
    const cat = await shell.runOk(['cat', '/var/lib/flotilla/text']);
    expect(cat.stdout).toBe('first line\nsecond: $HOME\n');
  });

  it('gives no stdin unless told (a reader sees EOF at once)', async () => {
    expect(await shell.run(['wc', '-c'])).toMatchObject({ code: 0, stdout: '0\n' });
  });

  it('returns exit codes and stderr; runOk throws them', async () => {
    const result = await shell.run(['sh', '-c', 'echo out; echo oops >&2; exit 7']);
    expect(result).toEqual({ code: 7, stdout: 'out\n', stderr: 'oops\n' });
    expect((await shell.run(['no-such-command-on-this-server'])).code).toBe(127);
    const failure = await shell
      .runOk(['sh', '-c', 'echo the real reason >&2; exit 3'])
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RemoteCommandFailed);
    expect(failure).toMatchObject({ code: 3, stderr: 'the real reason\n' });
    expect((failure as Error).message).toContain('the real reason');
    expect((failure as Error).message).toContain('exit 3');
  });

  it('reports a signal as 128 + its number, as a shell does', async () => {
    const result = await shell.run(['sh', '-c', 'kill -TERM $$']);
    expect(result.code).toBe(128 + 15);
  });

  it('stops waiting for a command that outlives its timeout', async () => {
    const pidFile = path.join(dir, 'varlib', 'sleeper.pid');
    await expect(
      shell.run(['sh', '-c', 'echo $$ > /var/lib/flotilla/sleeper.pid; exec sleep 60'], {
        timeoutMs: 500,
      }),
    ).rejects.toBeInstanceOf(RemoteCommandTimeout);
    expect((await shell.runOk(['echo', 'still usable'])).stdout).toBe('still usable\n');
    // What the command started is the caller's: this test stops it by its recorded PID.
    const pid = Number(await readFile(pidFile, 'utf8'));
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // The KILL signal request ended it already.
    }
  });

  it('keeps what a session writes to /opt in the test dir: the host /opt stays untouched', async () => {
    await shell.runOk(['touch', `/opt/${MARKER}`]);
    expect(existsSync(path.join(dir, 'opt', MARKER))).toBe(true);
    expect(existsSync(path.join('/opt', MARKER))).toBe(false);
    const listed = await shell.runOk(['ls', '-A', '/opt']);
    expect(listed.stdout.split('\n').filter(Boolean)).toEqual(await readdir(path.join(dir, 'opt')));
  });

  it('knows it is root', async () => {
    expect(await shell.isRoot()).toBe(true);
  });

  it('logs in with ecdsa and rsa identity files too', async () => {
    for (const type of ['ecdsa', 'rsa'] as const) {
      const key = path.join(dir, `user_${type}`);
      await generateKey(key, type);
      await sshd!.authorize(`${key}.pub`);
      const other = await connect({ identityFile: key });
      expect((await other.runOk(['id', '-un'])).stdout).toBe('root\n');
      await other.close();
    }
  });

  it('finds a default key in ~/.ssh when no -i and no agent are given', async () => {
    const home = path.join(dir, 'home');
    await mkdir(path.join(home, '.ssh'), { recursive: true });
    await generateKey(path.join(home, '.ssh', 'id_ecdsa'), 'ecdsa');
    await sshd!.authorize(path.join(home, '.ssh', 'id_ecdsa.pub'));
    const saved = { HOME: process.env.HOME, SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK };
    process.env.HOME = home;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const other = await connect({ identityFile: undefined });
      expect(await other.isRoot()).toBe(true);
      await other.close();
    } finally {
      for (const [name, value] of Object.entries(saved))
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
    }
  });

  it('refuses a key the server does not have, naming the key', async () => {
    const stranger = path.join(dir, 'stranger');
    await generateKey(stranger);
    const failure = await connect({ identityFile: stranger }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SshAuthRefused);
    expect((failure as Error).message).toContain(stranger);
    expect((failure as Error).message).toContain(await keyFingerprint(`${stranger}.pub`));
    expect((failure as SshAuthRefused).hint).toContain('authorized_keys');
  });

  it('says an encrypted key needs the agent', async () => {
    const locked = path.join(dir, 'locked');
    await generateKey(locked, 'ed25519', 'a passphrase');
    const failure = await connect({ identityFile: locked }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SshKeyEncrypted);
    expect((failure as SshKeyEncrypted).hint).toContain('ssh-add');
  });

  it('reports a refused connection as a typed error', async () => {
    const port = await freePort();
    const failure = await RemoteShell.connect({
      target: { user: 'root', host: '127.0.0.1', port },
      identityFile: sshd!.userKeyFile,
      knownHostsFile: sshd!.knownHostsFile,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SshConnectFailed);
    expect((failure as Error).message).toContain('connection refused');
  });

  it('reports a connection that closes before the handshake as a typed error', async () => {
    // Nothing listens on 2222 in the namespace: the bridge's connection is refused there.
    const failure = await connect({
      target: { user: 'root', host: sshd!.address, port: 2222 },
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SshConnectFailed);
  });
});
