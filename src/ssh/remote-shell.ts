// One SSH connection to a server, to run commands on it: the host key verified first
// (host-keys.ts; nothing is sent before), then a login with the keys ssh-auth.ts picks.
// Commands are argv arrays, quoted element by element for the remote shell; a caller whose
// login is not root prefixes `sudo -n` itself (isRoot()).
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel } from 'ssh2';
import {
  defaultKnownHostsFile,
  hostKeyFingerprint,
  hostKeyFromBlob,
  knownHostsName,
  knownKeyAlgorithms,
  parseHostKeyFingerprint,
  readKnownHosts,
  verifyHostKey,
  type HostKey,
  type HostKeyTrust,
} from './host-keys.ts';
import { quoteForRemoteShell } from './remote-quote.ts';
import { loginKeys } from './ssh-auth.ts';
import { SshError } from './ssh-error.ts';
import { formatSshTarget, type SshTarget } from './ssh-target.ts';

/** The server could not be reached, or the connection broke before the login. */
export class SshConnectFailed extends SshError {}
/** The server refused every key offered. */
export class SshAuthRefused extends SshError {}
/** The connection went away while a command ran. */
export class SshDisconnected extends SshError {}
/** `runOk`'s command exited non-zero (or by a signal). */
export class RemoteCommandFailed extends SshError {
  constructor(
    message: string,
    hint: string,
    readonly argv: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(message, hint);
  }
}
/** A command ran longer than its timeoutMs; its channel was closed. */
export class RemoteCommandTimeout extends SshError {}

export interface ConnectOptions {
  target: SshTarget;
  /** A private key file (OpenSSH ed25519, ecdsa, rsa); else the agent, then ~/.ssh/id_*. */
  identityFile?: string;
  /** Default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** `SHA256:…` the server's key must have (--host-key). */
  hostKeyFingerprint?: string;
  /** For the TCP connection and the handshake; default 20 s. */
  timeoutMs?: number;
  /** An open connection to the server to use instead of TCP to target (e.g. into a netns). */
  sock?: Duplex;
}

export interface RunOptions {
  /** Written to the command's stdin, then EOF; without it, stdin is empty. */
  stdin?: Buffer | string | NodeJS.ReadableStream;
  /** Closes the channel when reached and rejects with RemoteCommandTimeout. */
  timeoutMs?: number;
}

export interface RunResult {
  /** The exit code; 128 + the signal's number when a signal ended it (as a shell reports). */
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;
type HostKeyAlgorithm = (typeof HOST_KEY_ALGORITHMS)[number];
const STDERR_TAIL = 2_000;

/** The server's key types known_hosts holds first, so it shows one we can check. */
function hostKeyOrder(known: readonly string[]): HostKeyAlgorithm[] {
  const first = HOST_KEY_ALGORITHMS.filter((algorithm) => known.includes(algorithm));
  return [...first, ...HOST_KEY_ALGORITHMS.filter((algorithm) => !first.includes(algorithm))];
}

function connectError(error: Error & { code?: string; level?: string }, where: string): SshError {
  const hint = `check the address and port, that sshd runs on the server and that its firewall (or your provider's) lets TCP in`;
  switch (error.code) {
    case 'ECONNREFUSED':
      return new SshConnectFailed(`cannot connect to ${where}: connection refused`, hint);
    case 'ETIMEDOUT':
      return new SshConnectFailed(`cannot connect to ${where}: timed out`, hint);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SshConnectFailed(`cannot connect to ${where}: no route to host`, hint);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SshConnectFailed(
        `cannot resolve ${where}`,
        'check the host name, or give its IP address',
      );
  }
  if (error.level === 'client-timeout')
    return new SshConnectFailed(`cannot connect to ${where}: timed out (${error.message})`, hint);
  return new SshConnectFailed(`cannot connect to ${where}: ${error.message}`, hint);
}

function signalNumber(signal: string): number {
  const name = (
    signal.startsWith('SIG') ? signal : `SIG${signal}`
  ) as keyof typeof constants.signals;
  return constants.signals[name] ?? 0;
}

export class RemoteShell {
  private closed = false;
  private root: boolean | undefined;

  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
    /** The server's verified host key. */
    readonly hostKey: HostKey,
    /** What vouched for it: a known_hosts entry or the --host-key fingerprint. */
    readonly hostKeyTrust: HostKeyTrust,
  ) {
    client.on('close', () => (this.closed = true));
  }

  /** The verified host key's `SHA256:…` fingerprint. */
  get hostKeyFingerprint(): string {
    return hostKeyFingerprint(this.hostKey);
  }

  /** Connects, verifies the host key (refusing before any login) and logs in. */
  static async connect(options: ConnectOptions): Promise<RemoteShell> {
    const { target } = options;
    const where = formatSshTarget(target);
    const knownHostsFile = options.knownHostsFile ?? defaultKnownHostsFile();
    const knownHosts = await readKnownHosts(knownHostsFile);
    const fingerprint =
      options.hostKeyFingerprint === undefined
        ? undefined
        : parseHostKeyFingerprint(options.hostKeyFingerprint);
    const keys = await loginKeys(target.user, options.identityFile);
    const client = new Client();
    let verified: { key: HostKey; trust: HostKeyTrust } | undefined;
    let refusal: Error | undefined;
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.on('error', (error: Error & { code?: string; level?: string }) => {
        client.end();
        if (refusal) reject(refusal);
        else if (error.level === 'client-authentication')
          reject(
            new SshAuthRefused(
              `${where} refused the login: tried ${keys.offered.join(', ')}`,
              `add the public key to ~${target.user}/.ssh/authorized_keys on the server (e.g. \`ssh-copy-id -i KEY.pub ${where}\`), or give the key it has with -i`,
            ),
          );
        else reject(connectError(error, where));
      });
      client.once('close', () =>
        reject(
          refusal ??
            new SshConnectFailed(
              `the connection to ${where} closed before the login`,
              'check that the address and port are those of an SSH server',
            ),
        ),
      );
      client.connect({
        host: target.host,
        port: target.port,
        username: target.user,
        ...(options.sock ? { sock: options.sock } : {}),
        readyTimeout: options.timeoutMs ?? 20_000,
        authHandler: keys.methods,
        algorithms: {
          serverHostKey: hostKeyOrder(
            knownKeyAlgorithms(knownHosts, knownHostsName(target.host, target.port)),
          ),
        },
        hostVerifier: (blob: Buffer): boolean => {
          try {
            const key = hostKeyFromBlob(blob);
            const trust = verifyHostKey({
              ...target,
              key,
              knownHosts,
              knownHostsFile,
              fingerprint,
            });
            verified = { key, trust };
            return true;
          } catch (error) {
            refusal = error as Error;
            return false;
          }
        },
      });
    });
    if (!verified) throw new Error('ssh2 logged in without verifying the host key');
    return new RemoteShell(client, target, verified.key, verified.trust);
  }

  /** Runs argv on the server (each element quoted for its shell); never rejects on exit codes. */
  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const command = quoteForRemoteShell(argv);
    const where = formatSshTarget(this.target);
    if (this.closed)
      return Promise.reject(
        new SshDisconnected(`the connection to ${where} is closed`, 'connect again'),
      );
    return new Promise((resolve, reject) => {
      this.client.exec(command, (error: Error | undefined, channel: ClientChannel) => {
        if (error) {
          reject(
            new SshDisconnected(
              `cannot start \`${argv[0]}\` on ${where}: ${error.message}`,
              'connect again',
            ),
          );
          return;
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let exit: { code: number; signal?: string } | undefined;
        let settled = false;
        const settle = (outcome: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          outcome();
        };
        // sshd closes the channel only once the command ends: the promise does not wait for
        // it. The command may go on running on the server; the caller owns what it started.
        const timer =
          options.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                channel.signal('KILL');
                channel.close();
                settle(() =>
                  reject(
                    new RemoteCommandTimeout(
                      `\`${argv.join(' ')}\` on ${where} did not finish within ${options.timeoutMs} ms`,
                      'the server may be slow or the command waiting for something; run it by hand over ssh to see',
                    ),
                  ),
                );
              }, options.timeoutMs);
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (code: number | null, signal?: string) => {
          exit =
            code === null
              ? { code: 128 + signalNumber(signal ?? ''), ...(signal ? { signal } : {}) }
              : { code };
        });
        channel.on('close', () =>
          settle(() => {
            if (!exit)
              reject(
                new SshDisconnected(
                  `the connection to ${where} ended while \`${argv.join(' ')}\` ran`,
                  'check the server and run again',
                ),
              );
            else
              resolve({
                ...exit,
                stdout: Buffer.concat(stdout).toString('utf8'),
                stderr: Buffer.concat(stderr).toString('utf8'),
              });
          }),
        );
        const { stdin } = options;
        if (stdin === undefined) channel.end();
        else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
        else stdin.pipe(channel);
      });
    });
  }

  /** Like run, but a non-zero exit is a RemoteCommandFailed with the code and stderr's tail. */
  async runOk(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const result = await this.run(argv, options);
    if (result.code === 0) return result;
    const tail = result.stderr.trim().slice(-STDERR_TAIL);
    throw new RemoteCommandFailed(
      `\`${argv.join(' ')}\` failed on ${formatSshTarget(this.target)} (exit ${result.code}${result.signal ? `, signal ${result.signal}` : ''})${tail ? `: ${tail}` : ''}`,
      "the output above is the server's: fix the cause there and run again",
      argv,
      result.code,
      result.stderr,
    );
  }

  /** Whether the login user is root (`id -u` is 0); else callers prefix `sudo -n`. */
  async isRoot(): Promise<boolean> {
    this.root ??= (await this.runOk(['id', '-u'])).stdout.trim() === '0';
    return this.root;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.client.once('close', () => resolve());
      this.client.end();
    });
  }
}
