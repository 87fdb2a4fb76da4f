// A throwaway redis-server in its own temp dir: `backup verify` loads a backed-up RDB into
// one (a Unix socket only, no port), a Redis restore copies keys out of one, and the tests
// run their servers with it. Stopped by its PID.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { baseEnv, start, stopServer, waitUntilServing, type Running } from './child.ts';
import { withRedis } from './redis-client.ts';

export interface LocalRedisOptions {
  /** Also listen on 127.0.0.1:port; without it, only the Unix socket. */
  port?: number;
}

export class LocalRedis {
  private server: Running | undefined;

  private constructor(
    readonly dir: string,
    private readonly port: number | undefined,
  ) {}

  /** Makes the temp dir; put an RDB at `rdbFile` before start() to have it loaded. */
  static async create(options: LocalRedisOptions = {}): Promise<LocalRedis> {
    return new LocalRedis(await mkdtemp(path.join(os.tmpdir(), 'flotilla-redis-')), options.port);
  }

  get rdbFile(): string {
    return path.join(this.dir, 'dump.rdb');
  }

  get socket(): string {
    return path.join(this.dir, 'redis.sock');
  }

  get pid(): number | undefined {
    return this.server?.child.pid;
  }

  /** Starts it and waits until the dataset is loaded (PING answers PONG, not LOADING). */
  async start(): Promise<void> {
    const args = [
      '--port',
      String(this.port ?? 0),
      '--bind',
      '127.0.0.1',
      '--unixsocket',
      this.socket,
      '--unixsocketperm',
      '700',
      '--dir',
      this.dir,
      '--dbfilename',
      'dump.rdb',
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    this.server = start(['redis-server', ...args], { env: baseEnv(), stdout: 'ignore' });
    await waitUntilServing(this.server, 'redis-server', () =>
      withRedis({ path: this.socket }, (client) => client.ping()),
    );
  }

  async stop(): Promise<void> {
    const running = this.server;
    this.server = undefined;
    await stopServer(running, 'SIGTERM');
    await rm(this.dir, { recursive: true, force: true });
  }
}
