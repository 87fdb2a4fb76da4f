// From a declared monitor (the stack file's `monitors:` entry) to the check request the hub
// runs or sends: durations to milliseconds, the defaults filled, heartbeats not run at all.
import { describe, expect, it } from 'vitest';
import {
  InvalidCheckRequestError,
  monitorCheckRequest,
} from '../../src/monitoring/check-request.ts';
import { stackSchema, type MonitorSpec } from '../../src/spec/schema.ts';

function monitor(spec: Record<string, unknown>): MonitorSpec {
  return stackSchema.parse({ name: 'demo', monitors: { probe: spec } }).monitors!['probe']!;
}

describe('monitorCheckRequest', () => {
  it('turns an HTTP monitor into a request with milliseconds and defaults', () => {
    expect(
      monitorCheckRequest(
        monitor({
          http: { url: 'https://example.com/health', keyword: 'ok', max_latency: '1.5s' },
          timeout: '5s',
        }),
      ),
    ).toEqual({
      kind: 'http',
      url: 'https://example.com/health',
      method: 'GET',
      status: [],
      keyword: 'ok',
      max_latency_ms: 1_500,
      headers: {},
      trust_gateway_ca: false,
      timeout_ms: 5_000,
    });
  });

  it('turns a TCP monitor into one, and a heartbeat into none', () => {
    expect(monitorCheckRequest(monitor({ tcp: { host: 'db.internal', port: 5432 } }))).toEqual({
      kind: 'tcp',
      host: 'db.internal',
      port: 5432,
      timeout_ms: 10_000,
    });
    expect(monitorCheckRequest(monitor({ heartbeat: { period: '1h' } }))).toBeUndefined();
  });

  it('refuses headers a check may not send, with the reason', () => {
    expect(() =>
      monitorCheckRequest(
        monitor({ http: { url: 'https://example.com/', headers: { 'Content-Length': '5' } } }),
      ),
    ).toThrow(InvalidCheckRequestError);
  });
});
