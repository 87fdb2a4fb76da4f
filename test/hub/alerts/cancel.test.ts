// A delivery to a receiver that never answers ends when it is cancelled (the hub stopping),
// over HTTP and over SMTP: the senders honour the one signal sendAlert gives them, which
// also carries the 10 s deadline (whose expiry reads as a timeout). Cancelled on an event
// (the receiver got the connection or the request), never after a sleep.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AlertMessage } from '../../../src/hub/alerts/alert-message.ts';
import { failureReason } from '../../../src/hub/alerts/channels/delivery.ts';
import { sendAlert, type ResolvedAlertChannel } from '../../../src/hub/alerts/send-alert.ts';

const message: AlertMessage = { kind: 'test', stack: 'shop', what: 'a test alert', at: 0 };

/** Accepts connections and never says a word; `onData`/`onConnection` tell the test. */
let silent: net.Server;
let port: number;
const sockets: net.Socket[] = [];
let onConnection: () => void = () => {};
let onData: () => void = () => {};

beforeAll(async () => {
  silent = net.createServer((socket) => {
    sockets.push(socket);
    onConnection();
    socket.on('data', () => onData());
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

const webhook = (port: number): ResolvedAlertChannel => ({
  webhook: { url: `http://127.0.0.1:${port}/hook`, headers: {} },
});
const email = (port: number): ResolvedAlertChannel => ({
  email: {
    smtp: { host: '127.0.0.1', port, security: 'starttls' },
    from: 'flotilla@example.com',
    to: ['ops@example.com'],
  },
});

it.each([
  ['webhook', webhook, 'request'],
  ['email', email, 'connection'],
] as const)(
  '%s: a cancelled delivery to a silent receiver ends as cancelled',
  async (_kind, channel, when) => {
    const cancel = new AbortController();
    const arrived = () => cancel.abort();
    if (when === 'request') onData = arrived;
    else onConnection = arrived;
    const result = await sendAlert(channel(port), message, cancel.signal);
    expect(result).toEqual({
      ok: false,
      detail: expect.stringMatching(`127.0.0.1:${port}: cancelled$`),
    });
  },
);

it('the deadline passing reads as a timeout, another abort as cancelled', () => {
  const deadline = AbortSignal.abort(new DOMException('deadline', 'TimeoutError'));
  expect(failureReason(new Error('aborted'), deadline)).toBe('timed out after 10s');
  expect(failureReason(new Error('aborted'), AbortSignal.abort())).toBe('cancelled');
  expect(failureReason(new Error('connect ECONNREFUSED'), new AbortController().signal)).toBe(
    'connect ECONNREFUSED',
  );
});
