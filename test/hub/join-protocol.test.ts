// The join request's proof of possession: age keys decoded from bech32, the X25519 secret
// both ends derive, and an HMAC only the holder of the registered identity can match.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import * as age from 'age-encryption';
import { describe, expect, it } from 'vitest';
import {
  bech32Bytes,
  joinProof,
  joinProofMatches,
  type AgeKeyPair,
  type JoinRequest,
} from '../../src/hub/join-protocol.ts';
import { generateKeyPair } from '../../src/mesh/keys.ts';

async function ageKeyPair(): Promise<AgeKeyPair> {
  const identity = await age.generateIdentity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

const NONCE = 'AAAAAAAAAAAAAAAAAAAAAA';

function request(agent: AgeKeyPair, hub: AgeKeyPair, nonce = NONCE): JoinRequest {
  const fields = {
    node: 'db',
    wireguard_key: generateKeyPair().publicKey,
    recipient: agent.recipient,
    endpoint: '203.0.113.5',
    state_dir: '/var/lib/flotilla/agent',
  };
  return { token: 'flt1_x.y', ...fields, proof: joinProof(agent, hub.recipient, nonce, fields)! };
}

describe('age keys as bech32', () => {
  it('decodes an identity and its recipient into an X25519 key pair', async () => {
    for (let round = 0; round < 5; round++) {
      const { identity, recipient } = await ageKeyPair();
      const scalar = bech32Bytes(identity, 'age-secret-key-')!;
      const point = bech32Bytes(recipient, 'age')!;
      expect(scalar).toHaveLength(32);
      expect(point).toHaveLength(32);
      // node:crypto derives the recipient's point from the identity's scalar.
      const derived = createPublicKey(
        createPrivateKey({
          key: { kty: 'OKP', crv: 'X25519', d: scalar.toString('base64url'), x: 'A'.repeat(43) },
          format: 'jwk',
        }),
      ).export({ format: 'jwk' }).x;
      expect(derived).toBe(point.toString('base64url'));
    }
  });

  it('refuses a wrong checksum, prefix, alphabet or mixed case', async () => {
    const { identity, recipient } = await ageKeyPair();
    const last = recipient.at(-1) === 'q' ? 'p' : 'q';
    expect(bech32Bytes(recipient.slice(0, -1) + last, 'age')).toBeUndefined();
    expect(bech32Bytes(recipient, 'age-secret-key-')).toBeUndefined();
    expect(bech32Bytes(identity, 'age')).toBeUndefined();
    expect(bech32Bytes(recipient.replace(/.$/, 'b'), 'age')).toBeUndefined(); // not in the alphabet
    expect(
      bech32Bytes(identity.slice(0, 20) + identity.slice(20).toLowerCase(), 'age-secret-key-'),
    ).toBeUndefined();
    expect(bech32Bytes(identity.toLowerCase(), 'age-secret-key-')).toHaveLength(32);
    expect(bech32Bytes('age1', 'age')).toBeUndefined();
  });
});

describe('join proofs', () => {
  it("the hub, with its identity and the agent's recipient, matches the agent's proof", async () => {
    const [agent, hub] = await Promise.all([ageKeyPair(), ageKeyPair()]);
    const sent = request(agent, hub);
    expect(sent.proof).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(joinProofMatches(hub, agent.recipient, NONCE, sent)).toBe(true);
  });

  it('does not match for another identity, another nonce or a changed field', async () => {
    const [agent, hub, other] = await Promise.all([ageKeyPair(), ageKeyPair(), ageKeyPair()]);
    const sent = request(agent, hub);
    // Made with another identity than the registered recipient's.
    expect(joinProofMatches(hub, other.recipient, NONCE, sent)).toBe(false);
    expect(joinProofMatches(hub, agent.recipient, NONCE, request(other, hub))).toBe(false);
    // Made for another hub.
    expect(joinProofMatches(hub, agent.recipient, NONCE, request(agent, other))).toBe(false);
    // Bound to the token and to every field.
    expect(joinProofMatches(hub, agent.recipient, 'B'.repeat(22), sent)).toBe(false);
    for (const change of [
      { node: 'web' },
      { node: undefined },
      { wireguard_key: generateKeyPair().publicKey },
      { endpoint: '203.0.113.6' },
      { state_dir: '/srv/flotilla' },
    ])
      expect(joinProofMatches(hub, agent.recipient, NONCE, { ...sent, ...change })).toBe(false);
    expect(joinProofMatches(hub, agent.recipient, NONCE, { ...sent, proof: 'A'.repeat(43) })).toBe(
      false,
    );
  });

  it('is undefined for a key that is not an age X25519 key', async () => {
    const [agent, hub] = await Promise.all([ageKeyPair(), ageKeyPair()]);
    const fields = {
      wireguard_key: generateKeyPair().publicKey,
      recipient: agent.recipient,
      state_dir: '/x',
    };
    expect(joinProof(agent, 'age1notakey', NONCE, fields)).toBeUndefined();
    const hybrid = await age.identityToRecipient(await age.generateHybridIdentity());
    expect(joinProof(agent, hybrid, NONCE, fields)).toBeUndefined();
    expect(
      joinProof({ ...agent, identity: 'AGE-SECRET-KEY-1' }, hub.recipient, NONCE, fields),
    ).toBeUndefined();
    // A low-order point (all zeros, validly encoded) gives no shared secret.
    const zero = 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z';
    expect(bech32Bytes(zero, 'age')).toEqual(Buffer.alloc(32));
    expect(joinProof(agent, zero, NONCE, fields)).toBeUndefined();
  });
});
