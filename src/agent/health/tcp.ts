// TCP check: something accepts connections on the port.
import net from 'node:net';
import { PROBE_HOST, runProbe, type ProbeOptions, type ProbeResult } from './probe.ts';

export interface TcpProbeOptions extends ProbeOptions {
  port: number;
}

export function probeTcp(options: TcpProbeOptions): Promise<ProbeResult> {
  return runProbe(
    options,
    (signal) =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: PROBE_HOST, port: options.port });
        signal.addEventListener('abort', () => socket.destroy(), { once: true });
        socket.once('connect', () => {
          socket.destroy();
          resolve({ ok: true, detail: 'connected' });
        });
        socket.once('error', reject);
      }),
  );
}
