// Real receivers on loopback for the alert channels' tests: an HTTP server that records
// each request (method, path, headers, raw body) and answers with the status the test
// sets, standing in for a webhook endpoint, an ntfy server, Slack and Discord; and an SMTP
// server (smtp-server) that checks logins against its users and records each attempt and
// each message it accepts. And the route outage the tests send through them.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { AlertMessage } from '../../src/hub/alerts/alert-message.ts';

/** A route down for 90 s, seen from its gateway node. */
export const ROUTE_DOWN: AlertMessage = {
  kind: 'down',
  stack: 'shop',
  monitor: 'route:api.example.com/',
  what: 'https://api.example.com/ answers HTTP 502',
  node: 'app-1',
  service: 'api',
  route: 'api.example.com/',
  error: 'HTTP 502 Bad Gateway',
  since: Date.parse('2026-12-01T02:53:08Z'),
  at: Date.parse('2026-12-01T02:54:38Z'),
};

export interface CapturedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The exact bytes received. */
  body: Buffer;
}

export interface HttpReceiver {
  /** http://127.0.0.1:<port> (no trailing slash). */
  origin: string;
  requests: CapturedRequest[];
  /** What the next requests get; 200 with an empty body unless a test changes it. */
  answer: { status: number; body: string };
  close(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const requests: CapturedRequest[] = [];
  const answer = { status: 200, body: '' };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks),
      });
      response.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    answer,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export interface AuthAttempt {
  method: string;
  username: string;
  password: string;
  accepted: boolean;
}

export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  subject: string;
  /** The text body, quoted-printable decoded. */
  text: string;
  /** Whether the session was encrypted when the message came. */
  secure: boolean;
}

export interface SmtpReceiver {
  port: number;
  auths: AuthAttempt[];
  mails: ReceivedMail[];
  /** How many times the server was handed a message's data (accepted or not). */
  dataCalls: number;
  close(): Promise<void>;
}

/** A header's value, unfolded; '' when absent. */
function header(head: string, name: string): string {
  const unfolded = head.replace(/\r\n(?=[ \t])/g, '');
  const line = unfolded
    .split('\r\n')
    .find((candidate) => candidate.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line === undefined ? '' : line.slice(name.length + 1).trim();
}

function parseMail(raw: string): { subject: string; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split);
  const body = raw.slice(split + 4);
  const quoted = /quoted-printable/i.test(header(head, 'content-transfer-encoding'));
  const text = quoted
    ? Buffer.from(
        body
          .replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      ).toString('utf8')
    : body;
  return { subject: header(head, 'subject'), text: text.replace(/\r\n/g, '\n').trimEnd() };
}

/**
 * An SMTP server on 127.0.0.1, port 0. `users` are the logins it accepts; `options` add to
 * (or override) the defaults: no logging, any auth method smtp-server knows of.
 */
export async function startSmtpReceiver(
  users: Record<string, string>,
  options: SMTPServerOptions = {},
): Promise<SmtpReceiver> {
  const receiver: SmtpReceiver = {
    port: 0,
    auths: [],
    mails: [],
    dataCalls: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    logger: false,
    onAuth(auth, _session, callback) {
      const username = auth.username ?? '';
      const password = auth.password ?? '';
      const accepted = Object.hasOwn(users, username) && users[username] === password;
      receiver.auths.push({ method: auth.method, username, password, accepted });
      if (accepted) callback(null, { user: username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      receiver.dataCalls += 1;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const { envelope } = session;
        receiver.mails.push({
          from: envelope.mailFrom === false ? undefined : envelope.mailFrom.address,
          to: envelope.rcptTo.map((recipient) => recipient.address),
          secure: session.secure,
          ...parseMail(Buffer.concat(chunks).toString('utf8')),
        });
        callback();
      });
    },
    ...options,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.server.address() as AddressInfo).port;
  return receiver;
}
