// TCP check: something accepts connections on the port. The monitors' TCP check on the
// instance's own address, without the latency: a health state holds the verdict only.
import type { ProbeOptions, ProbeResult } from '../../monitoring/deadline.ts';
import { tcpCheck } from '../../monitoring/checks/tcp-check.ts';
import { PROBE_HOST } from './probe.ts';

export interface TcpProbeOptions extends ProbeOptions {
  port: number;
}

export async function probeTcp(options: TcpProbeOptions): Promise<ProbeResult> {
  const { ok, detail } = await tcpCheck({ host: PROBE_HOST, port: options.port }, options);
  return { ok, detail: ok ? 'connected' : detail };
}
