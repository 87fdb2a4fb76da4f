// Stand-in for the real db-proxy: answers /health on $PORT (loopback only, behind the
// gateway), runs SQL sent to POST /query by callers holding API_KEY against DATABASE_URL,
// and reports which settings it sees, so a test can check no other service's environment
// leaked in.
import { createServer } from 'node:http';
import pg from 'pg';

const port = Number(process.env.PORT);
// Lazy: the process is up (and healthy) before the database role has its password.
const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
// An idle connection dropped by a PostgreSQL restart is replaced by the next query.
db.on('error', () => {});

function send(response, status, body) {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readJson(request) {
  let text = '';
  for await (const chunk of request) text += chunk;
  return JSON.parse(text);
}

async function query(request, response) {
  if (request.headers['x-api-key'] !== process.env.API_KEY)
    return send(response, 401, { error: 'wrong or missing x-api-key' });
  try {
    const { sql, params = [] } = await readJson(request);
    const { rows } = await db.query(sql, params);
    send(response, 200, { rows });
  } catch (error) {
    send(response, 400, { error: error.message });
  }
}

createServer((request, response) => {
  if (request.url === '/health') return send(response, 200, { ok: true });
  if (request.method === 'POST' && request.url === '/query') return void query(request, response);
  send(response, 200, { service: 'db-proxy', env: Object.keys(process.env).sort() });
}).listen(port, '127.0.0.1');
