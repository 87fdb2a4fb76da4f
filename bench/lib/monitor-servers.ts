// Loopback servers for bench/monitoring's alert-latency half: a target a declared `http`
// monitor checks, which the bench switches between answering 200, answering 500 and resetting
// the connection; and a webhook receiver that stamps each alert with when it arrived
// (performance.now(), the bench's clock for the failure it caused), so failure → alert is
// measured at the receiver, delivery included.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { onCleanup } from './stack.ts';

export type TargetMode = 'ok' | 'http-500' | 'reset';

export interface SwitchableTarget {
  url: string;
  mode: TargetMode;
}

/** What the bench reads of a webhook alert (the webhook channel's JSON body). */
const alertBodySchema = z.object({
  kind: z.string(),
  monitor: z.string().nullish(),
  at: z.number(),
});

export interface ReceivedAlert {
  kind: string;
  monitor?: string;
  /** When the hub made the message (ms since the epoch, its `at`). */
  madeAt: number;
  /** performance.now() when the body had arrived. */
  arrivedAt: number;
  /** Date.now() at the same moment, to compare with `madeAt`. */
  arrivedWall: number;
}

export interface AlertReceiver {
  url: string;
  alerts: ReceivedAlert[];
}

/** Listens on 127.0.0.1:0; closed when the bench ends (onCleanup). */
async function listenLoopback(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

export async function startSwitchableTarget(): Promise<SwitchableTarget> {
  const target: SwitchableTarget = { url: '', mode: 'ok' };
  const server = http.createServer((request, response) => {
    if (target.mode === 'reset') request.socket.destroy();
    else if (target.mode === 'http-500') response.writeHead(500).end('failing on purpose');
    else response.writeHead(200).end('ok');
  });
  target.url = `http://127.0.0.1:${await listenLoopback(server)}/`;
  return target;
}

export async function startAlertReceiver(): Promise<AlertReceiver> {
  const alerts: ReceivedAlert[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const arrivedAt = performance.now();
      const arrivedWall = Date.now();
      response.writeHead(204).end();
      const parsed = alertBodySchema.safeParse(
        (() => {
          try {
            return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
          } catch {
            return undefined;
          }
        })(),
      );
      if (!parsed.success) return;
      const { kind, monitor, at } = parsed.data;
      alerts.push({
        kind,
        ...(monitor != null && { monitor }),
        madeAt: at,
        arrivedAt,
        arrivedWall,
      });
    });
  });
  return { url: `http://127.0.0.1:${await listenLoopback(server)}/hook`, alerts };
}
