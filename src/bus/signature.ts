// Proof of who published a message. Subject permissions stop a node from publishing to
// another's subjects itself, but not from making JetStream do it: any request's reply-to
// can name any subject, and a direct get of the node's own status answers there with
// bytes the node wrote. So messages whose origin matters — requests to an agent, events in
// the audit log — carry an HMAC keyed with the publisher's (or recipient's) bus password,
// which only that agent and the hub know.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { headers, type MsgHdrs } from 'nats';

const SIGNATURE_HEADER = 'Flotilla-Signature';

type SignedPurpose = 'request' | 'event';

function mac(key: string, purpose: SignedPurpose, subject: string, data: Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(`flotilla-${purpose}\n${subject}\n`)
    .update(data)
    .digest();
}

export function signedHeaders(
  key: string,
  purpose: SignedPurpose,
  subject: string,
  data: Uint8Array,
): MsgHdrs {
  const signed = headers();
  signed.set(SIGNATURE_HEADER, mac(key, purpose, subject, data).toString('base64url'));
  return signed;
}

export function hasValidSignature(
  key: string,
  purpose: SignedPurpose,
  message: { subject: string; data: Uint8Array; headers?: MsgHdrs | undefined },
): boolean {
  const claimed = Buffer.from(message.headers?.get(SIGNATURE_HEADER) ?? '', 'base64url');
  const expected = mac(key, purpose, message.subject, message.data);
  return claimed.length === expected.length && timingSafeEqual(claimed, expected);
}
