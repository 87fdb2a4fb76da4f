// The quickstart worker: takes jobs from the Redis queue and records them in PostgreSQL.
import pg from 'pg';
import Redis from 'ioredis';

const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const redis = new Redis(process.env.REDIS_URL);
await db.query(
  'CREATE TABLE IF NOT EXISTS jobs_done (id serial PRIMARY KEY, payload jsonb, at timestamptz DEFAULT now())',
);

let running = true;
process.on('SIGTERM', () => {
  running = false;
});

while (running) {
  const item = await redis.brpop('jobs', 1);
  if (item) await db.query('INSERT INTO jobs_done (payload) VALUES ($1)', [item[1]]);
}
await Promise.all([db.end(), redis.quit()]);
