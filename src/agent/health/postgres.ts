// PostgreSQL check: log in and run `SELECT 1` with the `pg` client, so a server that
// accepts TCP but is still starting up, recovering or shutting down ("the database system
// is starting up", SQLSTATE 57P03) is unhealthy.
import pg from 'pg';
import { runProbe, type ProbeOptions, type ProbeResult } from '../../monitoring/deadline.ts';
import { describeError } from '../../system/network-errors.ts';
import { PROBE_HOST } from './probe.ts';

export interface PostgresProbeOptions extends ProbeOptions {
  port: number;
  /** Default `postgres`. */
  user?: string;
  /** Default: the user's name, as psql does. */
  database?: string;
}

// Login refusals (invalid_authorization_specification, invalid_password) come only from a
// server that finished starting and accepts sessions. A check has no way to hold a
// password, so like Redis's NOAUTH they count as up: failing them would keep every
// password-protected database (and its dependents) down forever.
const LOGIN_REFUSED = new Set(['28000', '28P01']);
// pg's own complaint when the server asks for SCRAM and the check has no password.
const NO_PASSWORD = /client password must be a/;

function judgeFailure(error: unknown): ProbeResult {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if ((typeof code === 'string' && LOGIN_REFUSED.has(code)) || NO_PASSWORD.test(String(message)))
    return { ok: true, detail: 'up (login refused: the check has no password)' };
  return { ok: false, detail: describeError(error) };
}

export function probePostgres(options: PostgresProbeOptions): Promise<ProbeResult> {
  const user = options.user ?? 'postgres';
  return runProbe(options, async (signal) => {
    const client = new pg.Client({
      host: PROBE_HOST,
      port: options.port,
      user,
      database: options.database ?? user,
      // A function (not '') stops pg from reading PGPASSWORD or ~/.pgpass of the agent.
      password: () => '',
      // Explicit, so PGSSLMODE/PGAPPNAME in the agent's environment change nothing.
      ssl: false,
      application_name: 'flotilla-health',
      // Backstops that close the socket even if nobody waits for the answer any more.
      connectionTimeoutMillis: options.timeoutMs,
      query_timeout: options.timeoutMs,
    });
    // Errors after the verdict (the server going away mid-goodbye) must not crash the agent.
    client.on('error', () => {});
    signal.addEventListener('abort', () => void client.end().catch(() => {}), { once: true });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { ok: true, detail: 'SELECT 1 ok' };
    } catch (error) {
      return judgeFailure(error);
    } finally {
      void client.end().catch(() => {});
    }
  });
}
