// The quickstart API: counts visits in PostgreSQL, caches the count in Redis, and queues
// jobs for the worker. Everything it needs comes from its environment.
import http from 'node:http';
import pg from 'pg';
import Redis from 'ioredis';

const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const redis = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
const instance = process.env.INSTANCE ?? 'api';

await db.query(
  'CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz DEFAULT now())',
);

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ instance, ...body }));
}

const routes = {
  'GET /health': async () => {
    await db.query('SELECT 1');
    await redis.ping();
    return { ok: true };
  },
  'GET /': async () => ({ hello: 'from the flotilla quickstart' }),
  'POST /visits': async () => {
    const { rows } = await db.query('INSERT INTO visits DEFAULT VALUES RETURNING id');
    await redis.del('visits:count');
    return { visit: rows[0].id };
  },
  'GET /visits': async () => {
    const cached = await redis.get('visits:count');
    if (cached !== null) return { visits: Number(cached), cached: true };
    const { rows } = await db.query('SELECT count(*)::int AS n FROM visits');
    await redis.set('visits:count', rows[0].n, 'EX', 30);
    return { visits: rows[0].n, cached: false };
  },
  'POST /jobs': async () => ({
    queued: await redis.lpush('jobs', JSON.stringify({ at: Date.now() })),
  }),
  'GET /jobs/done': async () => {
    // The worker creates the table on start; until then nothing is done.
    const { rows } = await db.query("SELECT to_regclass('jobs_done') IS NOT NULL AS ready");
    if (!rows[0].ready) return { done: 0 };
    const done = await db.query('SELECT count(*)::int AS n FROM jobs_done');
    return { done: done.rows[0].n };
  },
};

http
  .createServer(async (req, res) => {
    const handler = routes[`${req.method} ${new URL(req.url, 'http://x').pathname}`];
    if (!handler) return send(res, 404, { error: 'not found' });
    try {
      send(res, 200, await handler());
    } catch (error) {
      send(res, 503, { error: error.message });
    }
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
