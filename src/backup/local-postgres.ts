// A throwaway PostgreSQL in its own temp dir: `backup verify` restores a dump into one
// (reachable only through a Unix socket in that dir, so it takes no port and nobody else
// can reach it), and the tests run their databases with it. PostgreSQL refuses to run as
// root, so under root it runs as the `postgres` system user. Stopped by its PID.
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { resolveUser, UnknownUserError, type SystemUser } from '../system/users.ts';
import { BackupError } from './backup-error.ts';
import { withPg, type PgServer } from './pg-client.ts';
import { baseEnv, runOrThrow, start, stopServer, waitUntilServing, type Running } from './child.ts';

const VERSIONS_DIR = '/usr/lib/postgresql';
/** The socket's name carries a port number even when no TCP port is open. */
const SOCKET_PORT = 5432;

/** The newest installed server's bin dir (Debian keeps initdb and postgres off PATH). */
async function serverBinDir(): Promise<string> {
  const versions = await readdir(VERSIONS_DIR).catch(() => [] as string[]);
  const newest = versions
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined)
    throw new BackupError(
      'no PostgreSQL server installed (needed to verify a PostgreSQL backup)',
      'install the postgresql package (scripts/install-system-deps.sh does)',
    );
  return path.join(VERSIONS_DIR, newest, 'bin');
}

/** PostgreSQL will not run as root: root runs it as the `postgres` system user. */
function postgresUser(): SystemUser {
  try {
    return resolveUser('postgres');
  } catch (error) {
    if (!(error instanceof UnknownUserError)) throw error;
    throw new BackupError(
      'no `postgres` system user to run a scratch PostgreSQL as',
      'install the postgresql package, which creates it',
    );
  }
}

export interface LocalPostgresOptions {
  /** Also listen on 127.0.0.1:port; without it, only the Unix socket. */
  port?: number;
}

export class LocalPostgres {
  private running: Running | undefined;

  private constructor(
    readonly dir: string,
    private readonly bin: string,
    private readonly owner: { uid?: number; gid?: number },
    /** What clients pass as the port: the TCP port, or the socket's number. */
    readonly port: number,
    private readonly tcp: boolean,
  ) {}

  /** initdb (trust authentication: the only way in is this machine) and start it. */
  static async start(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
    const bin = await serverBinDir();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-pg-'));
    let owner: { uid?: number; gid?: number } = {};
    if (process.getuid?.() === 0) {
      const user = postgresUser();
      owner = { uid: user.uid, gid: user.gid };
      await chown(dir, user.uid, user.gid);
    }
    const server = new LocalPostgres(
      dir,
      bin,
      owner,
      options.port ?? SOCKET_PORT,
      options.port !== undefined,
    );
    try {
      await server.initdb();
      await server.run();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get pid(): number | undefined {
    return this.running?.child.pid;
  }

  /** Where clients connect: the socket directory is the host for pg and libpq. */
  get server(): PgServer {
    return { host: this.dir, port: this.port, user: 'postgres' };
  }

  async query<T extends pg.QueryResultRow>(sql: string, database = 'postgres'): Promise<T[]> {
    return withPg(this.server, database, async (client) => (await client.query<T>(sql)).rows);
  }

  /** Fast shutdown (SIGINT), then the temp dir goes. */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    await stopServer(running, 'SIGINT');
    await rm(this.dir, { recursive: true, force: true });
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private async initdb(): Promise<void> {
    const args = ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--no-sync'];
    await runOrThrow(
      [path.join(this.bin, 'initdb'), ...args, '--no-instructions', '-E', 'UTF8'],
      { ...this.owner, cwd: this.dir, env: baseEnv({ LANG: 'C' }) },
      'initdb',
    );
  }

  private async run(): Promise<void> {
    const settings = [
      `listen_addresses=${this.tcp ? '127.0.0.1' : ''}`,
      `unix_socket_directories=${this.dir}`,
      // A scratch or test database: speed over durability.
      'fsync=off',
      'synchronous_commit=off',
      'full_page_writes=off',
    ];
    this.running = start(
      [
        path.join(this.bin, 'postgres'),
        '-D',
        this.dataDir,
        '-p',
        String(this.port),
        ...settings.flatMap((setting) => ['-c', setting]),
      ],
      { ...this.owner, cwd: this.dir, env: baseEnv({ LANG: 'C' }), stdout: 'ignore' },
    );
    await waitUntilServing(this.running, 'postgres', () => this.query('SELECT 1'));
  }
}
