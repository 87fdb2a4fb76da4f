// An email alert channel with `security: starttls` never sends its password or the message
// in the clear: against an SMTP server that does not offer STARTTLS (as a man in the
// middle stripping it would look) the channel refuses, and the server never sees AUTH nor
// a message. The control: the same server takes both from a channel set to `none`, so the
// refusal is the channel's, not the server's.
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertMessage } from '../../src/hub/alerts/alert-message.ts';
import type { EmailChannel } from '../../src/hub/alerts/channels/email.ts';
import { sendAlert } from '../../src/hub/alerts/send-alert.ts';
import { startSmtpReceiver, type SmtpReceiver } from '../helpers/alert-receivers.ts';

const PASSWORD = 'hunter2-but-longer';
const message: AlertMessage = {
  kind: 'test',
  stack: 'shop',
  what: 'A test alert from `flotilla alerts test`',
  at: 1_764_557_678_000,
};
const servers: SmtpReceiver[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A server that takes AUTH over plain text, and STARTTLS per `tls`. */
async function server(tls: 'absent' | 'hidden'): Promise<SmtpReceiver> {
  const started = await startSmtpReceiver(
    { alerts: PASSWORD },
    {
      hideSTARTTLS: true,
      // Hidden only, the command still works (with smtp-server's default certificate).
      ...(tls === 'absent' && { disabledCommands: ['STARTTLS'] }),
      authOptional: true,
      allowInsecureAuth: true,
    },
  );
  servers.push(started);
  return started;
}

function channel(port: number, security: EmailChannel['smtp']['security']): EmailChannel {
  return {
    smtp: { host: '127.0.0.1', port, security, username: 'alerts', password: PASSWORD },
    from: 'flotilla@example.com',
    to: ['ops@example.com'],
  };
}

describe('email alerts with security: starttls', () => {
  it('refuse a server that does not offer STARTTLS: no AUTH, no message reach it', async () => {
    const smtp = await server('absent');
    const result = await sendAlert({ email: channel(smtp.port, 'starttls') }, message);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(
      /^not sent through 127\.0\.0\.1:\d+: Error upgrading connection with STARTTLS: 500 .* \(the server offers no STARTTLS: /,
    );
    expect(result.detail).not.toContain(PASSWORD);
    expect(smtp.auths).toEqual([]);
    expect(smtp.dataCalls).toBe(0);
    expect(smtp.mails).toEqual([]);
  });

  it('refuse a server whose hidden STARTTLS presents a certificate nobody vouches for', async () => {
    const smtp = await server('hidden');
    const result = await sendAlert({ email: channel(smtp.port, 'starttls') }, message);
    expect(result.ok).toBe(false);
    expect(result.detail).not.toContain(PASSWORD);
    expect(smtp.auths).toEqual([]);
    expect(smtp.dataCalls).toBe(0);
  });

  it('control: the same server takes the login and the message from a channel set to none', async () => {
    const smtp = await server('absent');
    const result = await sendAlert({ email: channel(smtp.port, 'none') }, message);
    expect(result.ok).toBe(true);
    expect(smtp.auths.map((auth) => [auth.password, auth.accepted])).toEqual([[PASSWORD, true]]);
    expect(smtp.mails.map((mail) => mail.secure)).toEqual([false]);
  });
});
