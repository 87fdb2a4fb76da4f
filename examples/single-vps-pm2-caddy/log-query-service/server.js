// Stand-in for the real log-query-service: answers /health on $PORT (loopback only, behind the
// gateway) and reports which settings it sees, so a test can check no other service's
// environment leaked in.
import { createServer } from 'node:http';

const port = Number(process.env.PORT);

createServer((request, response) => {
  const body =
    request.url === '/health'
      ? { ok: true }
      : { service: 'log-query-service', env: Object.keys(process.env).sort() };
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}).listen(port, '127.0.0.1');
