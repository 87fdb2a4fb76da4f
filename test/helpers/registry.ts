// A private image registry for pull tests: Debian's `docker-registry` (the distribution
// project's native binary, not an image) on loopback with htpasswd auth, its storage and
// config in a temp dir, stopped by its PID. Plain HTTP is enough: the engine treats
// 127.0.0.0/8 registries as insecure by default. With `netns` it runs inside that network
// namespace, where a dockerd started in the same namespace reaches it on its loopback.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.ts';

const READY_TIMEOUT_MS = 15_000;
const BCRYPT_SALT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Low cost: the registry checks the hash on every request of a pull. */
const BCRYPT_COST = '05';

export interface RegistryOptions {
  netns?: string;
  username?: string;
  password?: string;
}

export interface Registry {
  pid: number;
  /** `127.0.0.1:<port>`: the prefix of image references in this registry. */
  host: string;
  username: string;
  password: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * bcrypt, which the registry's htpasswd requires. No bcrypt package is among our npm
 * dependencies and `caddy hash-password` fixes the cost at 14 (a second per request of a
 * pull), so the hash comes from libc's crypt(3) (libxcrypt does bcrypt) through perl-base,
 * which every Debian has; the password goes over stdin, never argv.
 */
export function bcryptHash(password: string): Promise<string> {
  const salt = Array.from(randomBytes(22), (byte) => BCRYPT_SALT_ALPHABET[byte % 64]).join('');
  return new Promise((resolve, reject) => {
    const child = execFile(
      'perl',
      ['-e', 'my $pw = <STDIN>; print crypt($pw, $ARGV[0])', `$2b$${BCRYPT_COST}$${salt}`],
      (error, stdout) => {
        if (error) reject(error);
        else if (!stdout.startsWith('$2b$'))
          reject(new Error(`crypt(3) gave no bcrypt hash: ${stdout}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(password);
  });
}

export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flt-registry-'));
  const username = options.username ?? 'flotilla';
  const password = options.password ?? randomBytes(12).toString('hex');
  const host = `127.0.0.1:${await freePort()}`;
  const configPath = path.join(dir, 'config.yml');
  const logPath = path.join(dir, 'registry.log');
  await writeFile(path.join(dir, 'htpasswd'), `${username}:${await bcryptHash(password)}\n`);
  await writeFile(
    configPath,
    JSON.stringify({
      version: '0.1',
      log: { level: 'info' },
      storage: { filesystem: { rootdirectory: path.join(dir, 'data') } },
      http: { addr: host, secret: randomBytes(16).toString('hex') },
      auth: { htpasswd: { realm: 'flotilla-test', path: path.join(dir, 'htpasswd') } },
    }),
  );
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const argv = ['docker-registry', 'serve', configPath];
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    const [program, ...args] =
      options.netns === undefined ? argv : ['ip', 'netns', 'exec', options.netns, ...argv];
    child = spawn(program!, args, { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  // The registry logs where it listens once its listener is open (also inside a namespace,
  // where this process cannot connect to check).
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!log().includes(`listening on ${host}`)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const text = log();
      await stop();
      throw new Error(`docker-registry did not start; its log:\n${text.slice(-4000)}`);
    }
    await sleep(50);
  }
  return { pid: child.pid!, host, username, password, log, stop };
}
