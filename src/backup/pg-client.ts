// A PostgreSQL session for one short task, as the `postgres` role without a password (a
// function, so pg never falls back to PGPASSWORD or ~/.pgpass of whoever runs Flotilla).
import pg from 'pg';

export interface PgServer {
  /** 127.0.0.1, or the directory of a Unix socket. */
  host: string;
  port: number;
  user: string;
}

export async function withPg<T>(
  server: PgServer,
  database: string,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ ...server, database, password: () => '', ssl: false });
  // Errors after the work is done (the server going away) must not crash the process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}
