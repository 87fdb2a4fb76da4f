// psql as the `postgres` system user over a server's Unix socket (peer authentication, so
// no password anywhere), SQL on stdin: how the example tests look inside the PostgreSQL the
// single-vps-pm2-caddy example runs.
import { spawn } from 'node:child_process';
import { resolveUser } from '../../src/system/users.ts';

/** Runs `sql` in `database`; resolves with psql's unaligned, tuples-only output. */
export function psqlAsPostgres(
  socketDir: string,
  port: number,
  sql: string,
  database = 'callmeback',
): Promise<string> {
  const { uid, gid } = resolveUser('postgres');
  const child = spawn(
    'psql',
    ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port), database],
    { uid, gid, cwd: '/', env: { PATH: '/usr/bin:/bin', LANG: 'C' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(sql);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(stdout.trim()) : reject(new Error(`psql: ${stderr}`)),
    );
  });
}
