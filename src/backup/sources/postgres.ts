// PostgreSQL: `pg_dump -Fc -Z0` streamed into restic (no temp file). Uncompressed custom
// format, because a compressed dump changes all over when a few rows change and defeats
// restic's deduplication; restic compresses the chunks instead (repository format 2).
import { BackupError } from '../backup-error.ts';
import { baseEnv } from '../child.ts';
import type { ResolvedJob } from '../job.ts';
import { LocalPostgres } from '../local-postgres.ts';
import { withPg, type PgServer } from '../pg-client.ts';
import type { Snapshot } from '../restic-output.ts';
import type { SnapshotLabels } from '../restic.ts';
import {
  dumpToPath,
  isPath,
  streamedFile,
  type BackupSource,
  type SourceContext,
  type Verified,
} from './source.ts';

type PostgresJob = Extract<ResolvedJob['source'], { kind: 'postgres' }>;

function postgresOf(job: ResolvedJob): PostgresJob {
  if (job.source.kind !== 'postgres') throw new Error(`${job.name} is not a postgres job`);
  return job.source;
}

/** libpq tools get the connection on argv (no password: it is never on argv) and a plain env. */
function connection(server: PgServer, database: string): string[] {
  return ['-h', server.host, '-p', String(server.port), '-U', server.user, '--dbname', database];
}

const TOOL_ENV = baseEnv({ PGCONNECT_TIMEOUT: '10' });

function pgRestore(server: PgServer, database: string, extra: string[] = []) {
  return {
    argv: [
      'pg_restore',
      '--exit-on-error',
      '--single-transaction',
      ...extra,
      ...connection(server, database),
    ],
    options: { env: TOOL_ENV },
  };
}

async function createDatabase(server: PgServer, name: string): Promise<void> {
  await withPg(server, 'postgres', async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount !== 0)
      throw new BackupError(
        `database ${name} already exists`,
        'restore into a new database name, or into the service to replace its database',
      );
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  });
}

/** Every table outside the system schemas, with its exact row count. */
async function countRows(server: PgServer, database: string): Promise<Verified> {
  return withPg(server, database, async (client) => {
    const tables = await client.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
       WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    let rows = 0;
    for (const table of tables.rows) {
      const name = `${client.escapeIdentifier(table.schema)}.${client.escapeIdentifier(table.name)}`;
      const result = await client.query<{ count: string }>(`SELECT count(*) FROM ${name}`);
      rows += Number(result.rows[0]?.count ?? 0);
    }
    const figures = { tables: tables.rows.length, rows };
    return { detail: `${figures.tables} tables, ${rows} rows`, figures };
  });
}

export const postgresSource: BackupSource = {
  backup({ job, restic }: SourceContext, labels: SnapshotLabels) {
    const source = postgresOf(job);
    return restic.backupStream(
      {
        kind: 'command',
        what: 'pg_dump',
        step: {
          argv: [
            'pg_dump',
            '--format=custom',
            '--compress=0',
            ...connection(source, source.database),
          ],
          options: { env: TOOL_ENV },
        },
      },
      `${source.database}.pgdump`,
      labels,
    );
  },

  replaces(job: ResolvedJob, into: string | undefined) {
    if (into !== undefined && into !== job.service) return undefined;
    return `the live database ${postgresOf(job).database} of ${job.service ?? 'the service'}`;
  },

  async restore(context: SourceContext, snapshot: Snapshot, into: string | undefined) {
    const { job, restic } = context;
    const source = postgresOf(job);
    if (into !== undefined && isPath(into)) {
      const file = await dumpToPath(context, snapshot, into);
      return `wrote the dump to ${file} (pg_restore reads it)`;
    }
    const file = streamedFile(snapshot);
    if (into === undefined || into === job.service) {
      // Replaces what the dump holds, in one transaction: all of it or nothing.
      await restic.dumpInto(
        snapshot.id,
        file,
        pgRestore(source, source.database, ['--clean', '--if-exists']),
        'pg_restore',
      );
      return `restored database ${source.database} of ${job.service ?? 'the service'}`;
    }
    await createDatabase(source, into);
    await restic.dumpInto(snapshot.id, file, pgRestore(source, into), 'pg_restore');
    return `restored into the new database ${into}`;
  },

  async verify({ job, restic }: SourceContext, snapshot: Snapshot) {
    const { database } = postgresOf(job);
    const scratch = await LocalPostgres.start();
    try {
      const server = scratch.server;
      if (database !== 'postgres') await createDatabase(server, database);
      await restic.dumpInto(
        snapshot.id,
        streamedFile(snapshot),
        pgRestore(server, database),
        'pg_restore',
      );
      return await countRows(server, database);
    } finally {
      await scratch.stop();
    }
  },
};
