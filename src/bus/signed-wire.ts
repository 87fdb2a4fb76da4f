// How a signed message travels on NATS: the payload's bytes as the message body and the
// signature in a header, so the receiver checks the signature over exactly the bytes it got
// before it parses any of them.
import { headers, type MsgHdrs } from 'nats';
import type { Signed } from '../protocol/signing.ts';

const SIGNATURE_HEADER = 'Flotilla-Signature';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function toWire(signed: Signed): { data: Uint8Array; headers: MsgHdrs } {
  const wire = headers();
  wire.set(SIGNATURE_HEADER, signed.sig);
  return { data: encoder.encode(signed.payload), headers: wire };
}

/** The signed message a NATS message carries, unverified; undefined when it is not one. */
export function fromWire(message: { data: Uint8Array; headers?: MsgHdrs }): Signed | undefined {
  const sig = message.headers?.get(SIGNATURE_HEADER) ?? '';
  if (!/^[A-Za-z0-9_-]{86}$/.test(sig)) return undefined;
  try {
    return { payload: decoder.decode(message.data), sig };
  } catch {
    return undefined;
  }
}
