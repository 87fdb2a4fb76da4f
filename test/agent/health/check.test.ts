// From a stack file's `health:` block to probes and a running monitor, against real
// loopback servers: port resolution, durations, and healthy seen fast with checkNow.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkTiming, healthProbe } from '../../../src/agent/health/check.ts';
import { monitorHealth, type HealthState } from '../../../src/agent/health/monitor.ts';
import { serviceSchema, type HealthCheck } from '../../../src/spec/schema.ts';
import { freePort } from '../../helpers/ports.ts';

function healthCheck(health: unknown): HealthCheck {
  return serviceSchema.parse({ run: { command: ['app'] }, health }).health!;
}

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: net.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

describe('checkTiming', () => {
  it('reads durations and thresholds, with the schema defaults', () => {
    expect(checkTiming(healthCheck({ tcp: {} }))).toEqual({
      intervalMs: 5000,
      timeoutMs: 2000,
      healthyThreshold: 1,
      unhealthyThreshold: 3,
    });
    expect(checkTiming(healthCheck({ tcp: {}, interval: '1m30s', timeout: '500ms' }))).toEqual(
      expect.objectContaining({ intervalMs: 90_000, timeoutMs: 500 }),
    );
  });
});

describe('healthProbe', () => {
  it('uses the first declared port unless the check names one', async () => {
    const open = await listen(net.createServer((socket) => socket.end()));
    const closed = await freePort();
    const target = { ports: { main: open, admin: closed }, env: {}, cwd: '/' };
    expect(await healthProbe(healthCheck({ tcp: {} }), target)()).toEqual({
      ok: true,
      detail: 'connected',
    });
    expect(await healthProbe(healthCheck({ tcp: { port: 'admin' } }), target)()).toEqual({
      ok: false,
      detail: 'connection refused',
    });
  });

  it('fails clearly when the port does not exist', async () => {
    const target = { ports: { main: 1 }, env: {}, cwd: '/' };
    expect(await healthProbe(healthCheck({ redis: { port: 'cache' } }), target)()).toEqual({
      ok: false,
      detail: 'no port named cache',
    });
    expect(await healthProbe(healthCheck({ http: {} }), { ...target, ports: {} })()).toEqual({
      ok: false,
      detail: 'the instance declares no port',
    });
  });

  it('passes the path and accepted statuses to the http probe', async () => {
    const port = await listen(
      http.createServer((request, response) => {
        response.statusCode = request.url === '/health' ? 204 : 404;
        response.end();
      }),
    );
    const target = { ports: { http: port }, env: {}, cwd: '/' };
    expect(await healthProbe(healthCheck({ http: { path: '/health' } }), target)()).toEqual({
      ok: true,
      detail: 'HTTP 204',
    });
    expect(
      await healthProbe(healthCheck({ http: { path: '/health', status: [200] } }), target)(),
    ).toEqual({ ok: false, detail: 'HTTP 204' });
  });

  it("runs an exec check with the instance's env and cwd", async () => {
    const check = healthCheck({ exec: { command: ['sh', '-c', 'test "$(pwd)" = "$WANT"'] } });
    expect(await healthProbe(check, { ports: {}, env: { WANT: '/tmp' }, cwd: '/tmp' })()).toEqual({
      ok: true,
      detail: 'exit 0',
    });
  });

  it("fails an exec check whose instance's user does not exist, without running it", async () => {
    const check = healthCheck({ exec: { command: ['true'] } });
    const target = { ports: {}, env: {}, cwd: '/tmp', user: 'no-such-flotilla-user' };
    expect(await healthProbe(check, target)()).toEqual({
      ok: false,
      detail: 'no user "no-such-flotilla-user" in /etc/passwd',
    });
  });
});

describe('monitorHealth', () => {
  it('sees a starting server turn healthy at once with checkNow, and unhealthy when it fails', async () => {
    const port = await freePort();
    let status = 200;
    const server = http.createServer((_request, response) => {
      response.statusCode = status;
      response.end();
    });
    const transitions: HealthState[] = [];
    const check = healthCheck({
      http: {},
      interval: '10s',
      timeout: '1s',
      unhealthy_threshold: 2,
    });
    const monitor = monitorHealth(check, { ports: { http: port }, env: {}, cwd: '/' }, (state) =>
      transitions.push(state),
    );
    cleanups.push(() => monitor.stop());
    await expect.poll(() => monitor.current.detail).toBe('connection refused');

    await listen(server, port);
    const started = Date.now();
    monitor.checkNow();
    await expect.poll(() => transitions).toMatchObject([{ healthy: true, detail: 'HTTP 200' }]);
    expect(Date.now() - started).toBeLessThan(1000); // not the 10 s interval

    status = 503;
    monitor.checkNow();
    await expect.poll(() => monitor.current.detail).toBe('HTTP 503');
    expect(monitor.current.healthy).toBe(true); // one failure of two
    monitor.checkNow();
    await expect.poll(() => transitions.map((state) => state.healthy)).toEqual([true, false]);
    expect(transitions[1]).toMatchObject({ healthy: false, detail: 'HTTP 503' });
  });
});
