// Everything the hub sends a node is signed by the hub (Ed25519) for that one node. Bus
// permissions keep other nodes from publishing to a node's subjects; the signature is what
// an agent actually trusts, so a forged, replayed or misdirected message is refused even if
// the bus is fooled or the hub's key store is the only thing left intact. The agent checks
// the signature over the raw bytes before it parses any of them.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { z } from 'zod';
import { readOrCreateSecretFile } from '../secrets/secret-file.ts';

/** A signed message as it travels and as an agent keeps it on disk. */
export const signedSchema = z.strictObject({
  /** The JSON text of a SignedMessage: parsed only once the signature checks out. */
  payload: z.string(),
  /** Ed25519 over the payload's UTF-8 bytes, base64url. */
  sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
});
export type Signed = z.infer<typeof signedSchema>;

export const STATE_KINDS = ['desired', 'gateway', 'directory'] as const;
export type StateKind = (typeof STATE_KINDS)[number];

const stateMessageSchema = z.strictObject({
  kind: z.enum(STATE_KINDS),
  node: z.string(),
  /** Grows with every message the hub sends: an agent refuses one not newer than the last. */
  revision: z.number().int().positive(),
  issued_at: z.number().int(),
  body: z.unknown(),
});

const requestMessageSchema = z.strictObject({
  kind: z.literal('request'),
  node: z.string(),
  /** Random and single-use: an agent refuses an id it has seen, and an old request. */
  id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  issued_at: z.number().int(),
  verb: z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)?$/),
  body: z.unknown(),
});

const signedMessageSchema = z.discriminatedUnion('kind', [
  stateMessageSchema,
  requestMessageSchema,
]);
export type StateMessage = z.infer<typeof stateMessageSchema>;
export type RequestMessage = z.infer<typeof requestMessageSchema>;
export type SignedMessage = z.infer<typeof signedMessageSchema>;

/** Why an agent did not act on something it received: logged, evented and in its status. */
export class RefusedMessage extends Error {
  override readonly name = 'RefusedMessage';
}

function isEd25519PrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}

/** The hub's private signing key. Its public half reaches each agent sealed, at join. */
export class HubSigningKey {
  private constructor(
    private readonly key: KeyObject,
    /** The public key as agents are given it (the raw key, base64url). */
    readonly publicKey: string,
  ) {}

  static async loadOrCreate(file: string): Promise<HubSigningKey> {
    const pem = await readOrCreateSecretFile(file, {
      what: 'hub signing key (Ed25519, PKCS#8 PEM)',
      create: () =>
        generateKeyPairSync('ed25519').privateKey.export({
          type: 'pkcs8',
          format: 'pem',
        }) as string,
      isValid: isEd25519PrivateKey,
    });
    const key = createPrivateKey(pem);
    const { x } = createPublicKey(key).export({ format: 'jwk' });
    return new HubSigningKey(key, x!);
  }

  sign(message: SignedMessage): Signed {
    const payload = JSON.stringify(message);
    return { payload, sig: sign(null, Buffer.from(payload), this.key).toString('base64url') };
  }
}

/** An agent's check of what claims to come from its hub. */
export class HubVerifier {
  private readonly key: KeyObject;

  constructor(publicKey: string) {
    try {
      this.key = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: publicKey },
        format: 'jwk',
      });
    } catch {
      throw new Error('the hub signing key in this node’s membership is not an Ed25519 key');
    }
  }

  /** The message inside `signed` if the hub signed it for `node`; RefusedMessage otherwise. */
  open(signed: Signed, node: string): SignedMessage {
    const signature = Buffer.from(signed.sig, 'base64url');
    if (signature.length !== 64 || !verify(null, Buffer.from(signed.payload), this.key, signature))
      throw new RefusedMessage("bad signature: not signed by this cluster's hub");
    let message: SignedMessage;
    try {
      message = signedMessageSchema.parse(JSON.parse(signed.payload));
    } catch {
      throw new RefusedMessage('a signed message of an unknown shape');
    }
    if (message.node !== node)
      throw new RefusedMessage(`signed for node ${message.node}, not for ${node}`);
    return message;
  }
}
