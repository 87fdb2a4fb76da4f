// Redis check: RESP `PING` over a raw socket. Only the first reply line matters.
import net from 'node:net';
import { runProbe, type ProbeOptions, type ProbeResult } from '../../monitoring/deadline.ts';
import { PROBE_HOST } from './probe.ts';

export interface RedisProbeOptions extends ProbeOptions {
  port: number;
}

const PING = '*1\r\n$4\r\nPING\r\n';
/** A reply line longer than this is not Redis talking. */
const MAX_REPLY = 1024;

export function judgeRedisReply(line: string): ProbeResult {
  if (line === '+PONG') return { ok: true, detail: 'PONG' };
  // NOAUTH counts as healthy: the server is up and serving commands, it only wants a
  // password, and a health check has no way to hold one. Failing it would keep every
  // password-protected Redis (and all its dependents) down forever. Redis checks auth
  // before loading state, so such a server's LOADING phase goes unseen.
  if (line.startsWith('-NOAUTH')) return { ok: true, detail: 'up (requires a password)' };
  // LOADING, BUSY, MASTERDOWN, …: up but not serving yet.
  if (line.startsWith('-')) return { ok: false, detail: line.slice(1) };
  return { ok: false, detail: `unexpected reply ${JSON.stringify(line.slice(0, 40))}` };
}

export function probeRedis(options: RedisProbeOptions): Promise<ProbeResult> {
  return runProbe(
    options,
    (signal) =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: PROBE_HOST, port: options.port });
        signal.addEventListener('abort', () => socket.destroy(), { once: true });
        let received = '';
        socket.setEncoding('utf8');
        socket.once('connect', () => socket.write(PING));
        socket.on('data', (chunk: string) => {
          received += chunk;
          const end = received.indexOf('\r\n');
          if (end === -1 && received.length < MAX_REPLY) return;
          socket.destroy();
          resolve(
            end === -1
              ? { ok: false, detail: 'reply too long' }
              : judgeRedisReply(received.slice(0, end)),
          );
        });
        socket.once('error', reject);
        socket.once('end', () => reject(new Error('connection closed without a reply')));
      }),
  );
}
