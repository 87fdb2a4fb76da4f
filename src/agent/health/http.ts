// HTTP check: GET a path and judge the status line alone. Redirects count as answers, not
// hops to follow (default 200-399 accepts them), and the body is never read, so a
// streaming endpoint cannot hold the check open.
import http from 'node:http';
import { runProbe, type ProbeOptions, type ProbeResult } from '../../monitoring/deadline.ts';
import { statusAccepted } from '../../monitoring/checks/http-check.ts';
import { PROBE_HOST } from './probe.ts';

export interface HttpProbeOptions extends ProbeOptions {
  port: number;
  path: string;
  /** Accepted status codes; default 200-399. */
  statuses?: readonly number[];
}

export function probeHttp(options: HttpProbeOptions): Promise<ProbeResult> {
  return runProbe(
    options,
    (signal) =>
      new Promise((resolve, reject) => {
        const request = http.get(
          {
            host: PROBE_HOST,
            port: options.port,
            path: options.path,
            signal,
            // A fresh connection per check: a pooled socket could outlive a dead server.
            agent: false,
            headers: { 'user-agent': 'flotilla-health' },
          },
          (response) => {
            const status = response.statusCode ?? 0;
            response.destroy();
            resolve({ ok: statusAccepted(status, options.statuses), detail: `HTTP ${status}` });
          },
        );
        request.on('error', reject);
      }),
  );
}
