// Stand-in for a custom MCP server: answers /health and echoes the path it was given, so
// a test can see that the gateway stripped the /notes prefix.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);

createServer((request, response) => {
  const body =
    request.url === '/health' ? { ok: true } : { server: 'notes-mcp', path: request.url };
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}).listen(port);
