// A real OpenSSH server in a lab namespace, for the tests of the SSH layer and `node add`: its
// own host key, an authorized user key and sshd_config in a temp dir (no PAM, keys only, root
// allowed with a key), run as `ip netns exec NS unshare --mount --propagation private
// lab-sshd-exec.sh MOUNT SOURCE... -- sshd -D -e -f CONFIG`. The bind mounts (e.g. /opt and
// /var/lib/flotilla over temp dirs) exist only in sshd's private mount namespace, which its
// sessions inherit: what they write there lands in the test's dirs and the host stays clean.
// stop() stops sshd by its PID; processes started through SSH are the caller's business.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';
const DIR_PREFIX = 'flotilla-sshd-';
const EXEC_WRAPPER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lab-sshd-exec.sh');

export interface LabSshdOptions {
  /** The lab namespace sshd listens in. */
  namespace: string;
  /** An address of that namespace. */
  address: string;
  /** Default 22. */
  port?: number;
  /** Mount point inside sshd's mount namespace -> host dir bound over it (e.g. '/opt'). */
  mounts?: Record<string, string>;
}

export interface LabSshd {
  namespace: string;
  address: string;
  port: number;
  /** Mount point inside -> host dir, as given. */
  mounts: Record<string, string>;
  /** As `ssh-keygen -lf` prints it for the host key: `SHA256:…`. */
  hostKeyFingerprint: string;
  /** The host key's type and base64 blob, as in known_hosts. */
  hostKey: { type: string; base64: string };
  /** A known_hosts file holding this server's line (`address` or `[address]:port`). */
  knownHostsFile: string;
  /** An ed25519 private key the server accepts for root (and any user). */
  userKeyFile: string;
  /** sshd's temp dir (config, keys, log). */
  dir: string;
  pid: number;
  /** What sshd logged so far (-e: to stderr). */
  log(): string;
  /** Lets a public key file log in too. */
  authorize(publicKeyFile: string): Promise<void>;
  stop(): Promise<void>;
}

/** `ssh-keygen -t TYPE` into `file` (and `file.pub`); a passphrase encrypts the private key. */
export async function generateKey(
  file: string,
  type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519',
  passphrase = '',
): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'lab-sshd', '-f', file]);
}

/** The `SHA256:…` fingerprint of a public key file, by `ssh-keygen -lf`. */
export async function keyFingerprint(publicKeyFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', publicKeyFile]);
  const fingerprint = stdout.split(' ')[1];
  if (!fingerprint?.startsWith('SHA256:')) throw new Error(`ssh-keygen -lf: ${stdout}`);
  return fingerprint;
}

/** Whether a lab sshd still runs on this machine (in any namespace, any test process). */
function labSshdRunning(): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // sshd retitles itself (`sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] …`): the
      // title still names its config, in a lab sshd's temp dir.
      if (
        readlinkSync(`/proc/${entry}/exe`) === SSHD &&
        readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${path.sep}${DIR_PREFIX}`)
      )
        return true;
    } catch {
      // Gone, or a kernel thread.
    }
  }
  return false;
}

/**
 * Dirs lab sshds created on the host (mount points, /run/sshd), deepest first: removed when
 * empty and no lab sshd runs any more (another one, maybe another test's, may still use them).
 */
const createdDirs: string[] = [];

async function removeCreatedDirs(): Promise<void> {
  if (labSshdRunning()) return;
  for (const dir of createdDirs.splice(0))
    await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') createdDirs.push(dir);
    });
}

/** Creates `dir` (and missing parents) unless it exists (a file mount point may); returns those created, deepest first. */
async function createDir(dir: string): Promise<string[]> {
  const created: string[] = [];
  for (let current = dir; !existsSync(current); current = path.dirname(current))
    created.push(current);
  if (created.length > 0) await mkdir(dir, { recursive: true, mode: 0o755 });
  return created;
}

export async function startLabSshd(options: LabSshdOptions): Promise<LabSshd> {
  const port = options.port ?? 22;
  const dir = await mkdtemp(path.join(tmpdir(), DIR_PREFIX));
  let pid: number | undefined;
  let output = '';
  let exited: Promise<void> = Promise.resolve();

  const stop = async (): Promise<void> => {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      await exited;
      pid = undefined;
    }
    await removeCreatedDirs();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const hostKeyFile = path.join(dir, 'ssh_host_ed25519_key');
    const userKeyFile = path.join(dir, 'user_ed25519');
    const authorizedKeys = path.join(dir, 'authorized_keys');
    await generateKey(hostKeyFile);
    await generateKey(userKeyFile);
    await writeFile(authorizedKeys, await readFile(`${userKeyFile}.pub`), { mode: 0o600 });
    const [type, base64] = (await readFile(`${hostKeyFile}.pub`, 'utf8')).split(' ');
    if (!type || !base64) throw new Error('ssh-keygen wrote no public host key');
    const host = isIPv6(options.address) ? `[${options.address}]` : options.address;
    const knownHostsFile = path.join(dir, 'known_hosts');
    await writeFile(
      knownHostsFile,
      `${port === 22 ? options.address : `${host}:${port}`} ${type} ${base64}\n`,
    );
    const config = path.join(dir, 'sshd_config');
    await writeFile(
      config,
      [
        `ListenAddress ${host}:${port}`,
        `HostKey ${hostKeyFile}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        // The keys live in a temp dir under /tmp, not in a home's .ssh.
        'StrictModes no',
        'PrintMotd no',
        'PrintLastLog no',
        '',
      ].join('\n'),
    );
    // sshd refuses to start without its privilege separation dir.
    createdDirs.push(...(await createDir(PRIVSEP_DIR)));
    const mountArgs: string[] = [];
    for (const [mountPoint, source] of Object.entries(options.mounts ?? {})) {
      createdDirs.unshift(...(await createDir(mountPoint)));
      mountArgs.push(mountPoint, source);
    }
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        options.namespace,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        EXEC_WRAPPER,
        ...mountArgs,
        '--',
        SSHD,
        '-D',
        '-e',
        '-f',
        config,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    pid = child.pid;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Server listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`sshd exited (${code}): ${output}`)));
      child.once('error', reject);
    });
    return {
      namespace: options.namespace,
      address: options.address,
      port,
      mounts: { ...options.mounts },
      hostKeyFingerprint: await keyFingerprint(`${hostKeyFile}.pub`),
      hostKey: { type, base64 },
      knownHostsFile,
      userKeyFile,
      dir,
      pid: pid!,
      log: () => output,
      authorize: async (publicKeyFile) => appendFile(authorizedKeys, await readFile(publicKeyFile)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
