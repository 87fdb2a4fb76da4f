// The HTTP probe against a real node http server on a loopback port.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeHttp } from '../../../src/agent/health/http.ts';
import { freePort } from '../../helpers/ports.ts';

let server: http.Server;
let port: number;
const requested: string[] = [];

beforeAll(async () => {
  server = http.createServer((request, response) => {
    requested.push(request.url ?? '');
    switch (request.url) {
      case '/ok':
        return response.end('fine');
      case '/down':
        response.statusCode = 503;
        return response.end('down');
      case '/moved':
        response.writeHead(301, { location: '/down' });
        return response.end();
      case '/stream':
        // Headers go out, the body never ends: the probe must not wait for it.
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        return response.write('data: 1\n\n');
      case '/slow':
        return; // never answers
      default:
        response.statusCode = 404;
        response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const probe = (path: string, extra: { statuses?: number[]; timeoutMs?: number } = {}) =>
  probeHttp({ port, path, timeoutMs: 2000, ...extra });

describe('the http probe', () => {
  it('passes on 200 and fails on 503, saying the status', async () => {
    expect(await probe('/ok')).toEqual({ ok: true, detail: 'HTTP 200' });
    expect(await probe('/down')).toEqual({ ok: false, detail: 'HTTP 503' });
  });

  it('accepts a redirect by default without following it', async () => {
    requested.length = 0;
    expect(await probe('/moved')).toEqual({ ok: true, detail: 'HTTP 301' });
    expect(requested).toEqual(['/moved']);
  });

  it('accepts only the listed statuses when given', async () => {
    expect(await probe('/moved', { statuses: [200] })).toEqual({ ok: false, detail: 'HTTP 301' });
    expect(await probe('/down', { statuses: [200, 503] })).toEqual({
      ok: true,
      detail: 'HTTP 503',
    });
  });

  it('does not wait for the body', async () => {
    const started = Date.now();
    expect(await probe('/stream', { timeoutMs: 1000 })).toEqual({ ok: true, detail: 'HTTP 200' });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('gives up at the timeout', async () => {
    const started = Date.now();
    expect(await probe('/slow', { timeoutMs: 200 })).toEqual({
      ok: false,
      detail: 'timed out after 200ms',
    });
    expect(Date.now() - started).toBeLessThan(600);
  });

  it('reports a closed port as connection refused', async () => {
    expect(await probeHttp({ port: await freePort(), path: '/', timeoutMs: 1000 })).toEqual({
      ok: false,
      detail: 'connection refused',
    });
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    const result = probeHttp({ port, path: '/slow', timeoutMs: 5000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await result).toEqual({ ok: false, detail: 'cancelled' });
  });
});
