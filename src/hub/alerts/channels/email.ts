// The email channel: one message over SMTP (nodemailer), subject the title, body the text.
// `starttls` requires the upgrade: a server (or a man in the middle) that does not offer
// STARTTLS gets neither the password nor the message; nodemailer's requireTLS refuses
// before AUTH. `tls` is TLS from the first byte (port 465), `none` a plain relay that
// skips even an offered upgrade (a local relay's self-signed certificate would fail it).
import { readFile } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import type { AlertChannel } from '../../../spec/schema.ts';
import { renderText, renderTitle, type AlertMessage } from '../alert-message.ts';
import { ALERT_TIMEOUT_MS, failureReason, redact, type DeliveryResult } from './delivery.ts';

/** `smtp.cacert`, when set, is an absolute path: the caller resolves it from the stack file. */
export type EmailChannel = NonNullable<AlertChannel['email']>;

/** What to do about the failures an operator can fix in the stack file. */
function hint(error: unknown): string {
  const { code, command, response } = error as {
    code?: string;
    command?: string;
    response?: string;
  };
  if (code === 'ETLS' && command === 'STARTTLS' && response !== undefined)
    return ' (the server offers no STARTTLS: with `security: starttls` the password and the message never travel unencrypted; `tls` if it takes TLS on connect)';
  if (code === 'EAUTH') return ' (check smtp.username and the password)';
  return '';
}

export async function sendEmail(
  channel: EmailChannel,
  message: AlertMessage,
  signal: AbortSignal,
): Promise<DeliveryResult> {
  const { smtp } = channel;
  const port = smtp.port ?? (smtp.security === 'tls' ? 465 : 587);
  const server = `${smtp.host}:${port}`;
  let ca: Buffer | undefined;
  try {
    ca = smtp.cacert === undefined ? undefined : await readFile(smtp.cacert);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return { ok: false, detail: `cannot read the CA certificate ${smtp.cacert}: ${code}` };
  }
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    ignoreTLS: smtp.security === 'none',
    ...(ca && { tls: { ca } }),
    ...(smtp.username !== undefined && {
      auth: { user: smtp.username, pass: smtp.password ?? '' },
    }),
    connectionTimeout: ALERT_TIMEOUT_MS,
    greetingTimeout: ALERT_TIMEOUT_MS,
    socketTimeout: ALERT_TIMEOUT_MS,
  });
  try {
    const info = await transport.sendMail({
      from: channel.from,
      to: channel.to,
      subject: renderTitle(message),
      text: renderText(message),
      signal,
    });
    // Some recipients refused is still a delivery: sending again would repeat it to the rest.
    const refused = info.rejected.map(String);
    const accepted = `accepted by ${server} for ${channel.to.length - refused.length} of ${channel.to.length} recipient(s)`;
    return {
      ok: true,
      detail: refused.length === 0 ? accepted : `${accepted}; refused ${refused.join(', ')}`,
    };
  } catch (error) {
    const reason = failureReason(error, signal) + hint(error);
    return { ok: false, detail: redact(`not sent through ${server}: ${reason}`, [smtp.password]) };
  } finally {
    transport.close();
  }
}
