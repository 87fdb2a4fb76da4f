// The email channel against a real SMTP server (smtp-server) on loopback: STARTTLS with a
// certificate the channel's cacert trusts, AUTH PLAIN and LOGIN checked by the server,
// implicit TLS, a plain local relay, and the failures an operator meets (a wrong password,
// an untrusted certificate, a missing CA file, nothing listening), none of which shows the
// password.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  renderText,
  renderTitle,
  type AlertMessage,
} from '../../../src/hub/alerts/alert-message.ts';
import type { EmailChannel } from '../../../src/hub/alerts/channels/email.ts';
import { sendAlert } from '../../../src/hub/alerts/send-alert.ts';
import { selfSignedCertificate, type Certificate } from '../../backup/fixtures/self-signed.ts';
import { startSmtpReceiver, type SmtpReceiver } from '../../helpers/alert-receivers.ts';

const message: AlertMessage = {
  kind: 'down',
  stack: 'shop',
  monitor: 'backup:nightly',
  what: 'backup nightly has not succeeded for 26h (schedule: daily)',
  node: 'db',
  service: 'postgres',
  error: 'restic: repository is locked by another process',
  since: 1_764_557_588_000,
  at: 1_764_557_678_000,
};

const USERS = { alerts: 'correct horse battery staple' };
let dir: string;
let cacert: string;
let certificate: Certificate;
const servers: SmtpReceiver[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-alert-email-'));
  certificate = selfSignedCertificate();
  cacert = path.join(dir, 'ca.pem');
  await writeFile(cacert, certificate.cert);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function smtpServer(options: Parameters<typeof startSmtpReceiver>[1]): Promise<SmtpReceiver> {
  const server = await startSmtpReceiver(USERS, {
    key: certificate.key,
    cert: certificate.cert,
    ...options,
  });
  servers.push(server);
  return server;
}

function channel(port: number, smtp: Partial<EmailChannel['smtp']> = {}): EmailChannel {
  return {
    smtp: {
      host: '127.0.0.1',
      port,
      security: 'starttls',
      username: 'alerts',
      password: USERS.alerts,
      cacert,
      ...smtp,
    },
    from: 'flotilla@example.com',
    to: ['ops@example.com', 'oncall@example.com'],
  };
}

describe('email over STARTTLS', () => {
  it.each(['PLAIN', 'LOGIN'])(
    'delivers after upgrading and logging in with AUTH %s',
    async (method) => {
      const server = await smtpServer({ authMethods: [method] });
      const result = await sendAlert({ email: channel(server.port) }, message);
      expect(result).toEqual({
        ok: true,
        detail: `accepted by 127.0.0.1:${server.port} for 2 of 2 recipient(s)`,
      });
      expect(server.auths).toEqual([
        { method, username: 'alerts', password: USERS.alerts, accepted: true },
      ]);
      expect(server.mails).toEqual([
        {
          from: 'flotilla@example.com',
          to: ['ops@example.com', 'oncall@example.com'],
          secure: true,
          subject: renderTitle(message),
          text: renderText(message),
        },
      ]);
    },
  );

  it('a recipient the server refuses is named; the others still get the alert', async () => {
    const server = await smtpServer({
      onRcptTo(address, _session, callback) {
        callback(address.address === 'oncall@example.com' ? new Error('no such user') : null);
      },
    });
    const result = await sendAlert({ email: channel(server.port) }, message);
    expect(result).toEqual({
      ok: true,
      detail: `accepted by 127.0.0.1:${server.port} for 1 of 2 recipient(s); refused oncall@example.com`,
    });
    expect(server.mails.map((mail) => mail.to)).toEqual([['ops@example.com']]);
  });

  it('a wrong password is refused by the server, and the detail does not show it', async () => {
    const server = await smtpServer({});
    const wrong = 'not the password at all';
    const result = await sendAlert({ email: channel(server.port, { password: wrong }) }, message);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(
      new RegExp(`^not sent through 127\\.0\\.0\\.1:${server.port}: .*Invalid login`),
    );
    expect(result.detail).not.toContain(wrong);
    expect(server.auths.map((auth) => auth.accepted)).toEqual([false]);
    expect(server.dataCalls).toBe(0);
  });

  it('a certificate the CA file does not vouch for stops the upgrade before AUTH', async () => {
    const stranger = selfSignedCertificate();
    const other = path.join(dir, 'other-ca.pem');
    await writeFile(other, stranger.cert);
    const server = await smtpServer({});
    const result = await sendAlert({ email: channel(server.port, { cacert: other }) }, message);
    expect(result.ok).toBe(false);
    expect(result.detail).toBe(
      `not sent through 127.0.0.1:${server.port}: self-signed certificate`,
    );
    expect(server.auths).toEqual([]);
    expect(server.dataCalls).toBe(0);
  });

  it('a CA file that cannot be read fails before connecting, naming the file', async () => {
    const server = await smtpServer({});
    const missing = path.join(dir, 'missing.pem');
    const result = await sendAlert({ email: channel(server.port, { cacert: missing }) }, message);
    expect(result).toEqual({
      ok: false,
      detail: `cannot read the CA certificate ${missing}: ENOENT`,
    });
  });
});

describe('email over implicit TLS and a plain relay', () => {
  it('tls: TLS from the first byte', async () => {
    const server = await smtpServer({ secure: true });
    const result = await sendAlert({ email: channel(server.port, { security: 'tls' }) }, message);
    expect(result.ok).toBe(true);
    expect(server.mails.map((mail) => mail.secure)).toEqual([true]);
  });

  it('none: a relay without login, left unencrypted even when it offers STARTTLS', async () => {
    const server = await smtpServer({ authOptional: true });
    const relay = channel(server.port, {
      security: 'none',
      username: undefined,
      password: undefined,
      cacert: undefined,
    });
    const result = await sendAlert({ email: relay }, message);
    expect(result.ok).toBe(true);
    expect(server.auths).toEqual([]);
    expect(server.mails.map((mail) => [mail.secure, mail.subject])).toEqual([
      [false, renderTitle(message)],
    ]);
  });
});

it('nothing listening: a failure naming the server', async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const result = await sendAlert({ email: channel(port) }, message);
  expect(result.ok).toBe(false);
  expect(result.detail).toBe(
    `not sent through 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
  );
});
