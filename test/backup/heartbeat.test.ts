// The heartbeat ping after a successful backup: Uptime Kuma's push query is added unless the
// URL has its own, and a failed ping says why without the URL (it holds a push token).
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heartbeatUrl, sendHeartbeat } from '../../src/backup/heartbeat.ts';
import { freePort } from '../helpers/ports.ts';

let server: http.Server;
let base: string;
const seen: string[] = [];

beforeAll(async () => {
  server = http.createServer((request, response) => {
    seen.push(request.url ?? '');
    response.statusCode = request.url?.startsWith('/missing') ? 404 : 200;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('the backup heartbeat', () => {
  it("adds Uptime Kuma's push query, with the run's duration as the ping", () => {
    expect(heartbeatUrl('https://kuma.example.com/api/push/Ab12', 1234.6)).toBe(
      'https://kuma.example.com/api/push/Ab12?status=up&msg=OK&ping=1235',
    );
  });

  it('leaves a URL that has its own query as it is', () => {
    const url = 'https://hc-ping.example.com/uuid?rid=7';
    expect(heartbeatUrl(url, 10)).toBe(url);
  });

  it('GETs the URL and reports ok, an HTTP error, or an unreachable endpoint', async () => {
    expect(await sendHeartbeat(`${base}/api/push/token`, 50)).toBe('ok');
    expect(seen.at(-1)).toBe('/api/push/token?status=up&msg=OK&ping=50');
    expect(await sendHeartbeat(`${base}/missing/token`, 50)).toBe('failed: HTTP 404');
    expect(await sendHeartbeat(`http://127.0.0.1:${await freePort()}/x`, 50)).toBe(
      'failed: ECONNREFUSED',
    );
  });
});
