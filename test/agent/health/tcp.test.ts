// The TCP probe against a real listening socket and a closed port.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTcp } from '../../../src/agent/health/tcp.ts';
import { freePort } from '../../helpers/ports.ts';

let server: net.Server;
let port: number;
let accepted = 0;

beforeAll(async () => {
  server = net.createServer((socket) => {
    accepted += 1;
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('the tcp probe', () => {
  it('passes when the port accepts a connection', async () => {
    expect(await probeTcp({ port, timeoutMs: 1000 })).toEqual({ ok: true, detail: 'connected' });
    await expect.poll(() => accepted).toBe(1);
  });

  it('fails on a closed port', async () => {
    expect(await probeTcp({ port: await freePort(), timeoutMs: 1000 })).toEqual({
      ok: false,
      detail: 'connection refused',
    });
  });
});
