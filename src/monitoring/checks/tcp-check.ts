// TCP monitor check: something accepts connections on host:port within the timeout; the
// latency is the time to the accepted connection. Nothing is sent.
import net from 'node:net';
import type { TcpCheckRequest } from '../check-request.ts';
import { runProbe } from '../deadline.ts';
import { elapsedMs, type CheckOptions, type CheckResult } from './check-result.ts';

export type TcpCheckSpec = Pick<TcpCheckRequest, 'host' | 'port'>;

export function tcpCheck(spec: TcpCheckSpec, options: CheckOptions): Promise<CheckResult> {
  return runProbe(
    options,
    (signal) =>
      new Promise<CheckResult>((resolve, reject) => {
        const startedAt = performance.now();
        const socket = net.connect({ host: spec.host, port: spec.port });
        signal.addEventListener('abort', () => socket.destroy(), { once: true });
        socket.once('connect', () => {
          const latencyMs = elapsedMs(startedAt);
          socket.destroy();
          resolve({ ok: true, detail: `connected in ${latencyMs}ms`, latencyMs });
        });
        socket.once('error', reject);
      }),
  );
}
