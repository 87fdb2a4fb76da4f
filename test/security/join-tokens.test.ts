// Issue 10, item 4: a join token must not re-key a member. The real join service behind the
// real HTTP listener on loopback, a real members file, real agents (`joinHub`) with their own
// keys, and attackers sending sealed requests of their own: a second token for a member, a
// used token replayed with the member's public keys, the same after a hub restart, and the
// two legitimate ways in (the member itself joining again, and `node token --replace`).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as age from 'age-encryption';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Credentials } from '../../src/bus/credentials.ts';
import { agentPaths, joinHub, JoinFailed, type JoinOptions } from '../../src/daemon/membership.ts';
import { startJoinListener, type ApiServer } from '../../src/hub/api-server.ts';
import {
  JOIN_PATH,
  joinProof,
  sealJson,
  type AgeKeyPair,
  type JoinAnswer,
  type ProvenJoinFields,
} from '../../src/hub/join-protocol.ts';
import { JoinService } from '../../src/hub/join-service.ts';
import {
  issueJoinToken,
  loadOrCreateJoinSecret,
  parseJoinToken,
  UsedNonces,
  type JoinTokenOptions,
} from '../../src/hub/join-token.ts';
import { Members, type Member } from '../../src/hub/members.ts';
import { generateKeyPair } from '../../src/mesh/keys.ts';
import { planStack } from '../../src/plan/plan.ts';
import { loadOrCreateIdentity } from '../../src/secrets/store.ts';
import { parseStackText } from '../../src/spec/load.ts';
import { flotilla } from '../helpers/flotilla-cli.ts';

const STACK = [
  'name: joins',
  'mesh: { provider: wireguard, cidr: 100.96.0.0/16 }',
  'nodes:',
  '  gw: { address: 203.0.113.11, gateway: true }',
  '  store: { address: 203.0.113.13 }',
  '  app: { address: 203.0.113.12 }',
  '  spare: { address: 203.0.113.14 }',
  'services:',
  '  web: { node: app, run: { command: [sleep, infinity] }, ports: { http: 8080 }, routes: [{ host: web.test }] }',
].join('\n');

/** The hub's side, as `Cluster.startJoinListener` builds it, on a loopback port. */
class TestHub {
  server!: ApiServer;
  joined: { node: string; replaced?: Member }[] = [];
  private readonly credentials = new Map<string, Credentials>();
  private port = 0;

  constructor(
    readonly dir: string,
    readonly joinKey: AgeKeyPair,
    private readonly secret: Buffer,
  ) {}

  static async create(dir: string): Promise<TestHub> {
    const hub = new TestHub(
      dir,
      await loadOrCreateIdentity(path.join(dir, 'join.identity')),
      await loadOrCreateJoinSecret(dir),
    );
    const members = await Members.open(dir);
    await members.set('gw', {
      wireguard_key: generateKeyPair().publicKey,
      endpoint: '203.0.113.11',
      recipient: hub.joinKey.recipient,
      state_dir: '/var/lib/flotilla/joins',
      joined_at: new Date().toISOString(),
    });
    await hub.start();
    return hub;
  }

  /** Starts (again, on the same port): what the hub knows comes from its dir only. */
  async start(): Promise<void> {
    const loaded = parseStackText(STACK, 'joins.yml');
    if (!loaded.ok) throw new Error('fixture stack is invalid');
    const { stack } = loaded;
    const plan = planStack(stack, { stackDir: this.dir, stateDir: '/var/lib/flotilla/joins' });
    const service = new JoinService({
      joinKey: this.joinKey,
      secret: this.secret,
      usedNonces: await UsedNonces.open(this.dir),
      members: await Members.open(this.dir),
      hubNode: 'gw',
      current: () => ({ stack, plan }),
      busUrl: 'nats://100.96.0.1:4222',
      hubSigningKey: 'hub-signing-key-for-test',
      credentialsFor: async (node) => {
        if (!this.credentials.has(node))
          this.credentials.set(node, { user: node, pass: `pass-of-${node}-${Math.random()}` });
        return this.credentials.get(node)!;
      },
      joined: async (node, replaced) => {
        this.joined.push({ node, ...(replaced ? { replaced } : {}) });
      },
    });
    this.server = await startJoinListener({
      host: '127.0.0.1',
      port: this.port,
      route: service.route(),
    });
    this.port = Number(new URL(this.server.url).port);
  }

  async restart(): Promise<void> {
    await this.server.close();
    await this.start();
  }

  token(options: Omit<JoinTokenOptions, 'hubUrl' | 'hubKey'> = {}): string {
    return issueJoinToken(this.secret, {
      hubUrl: this.server.url,
      hubKey: this.joinKey.recipient,
      ...options,
    });
  }

  /** The members file as it is on disk. */
  async membersOnDisk(): Promise<Record<string, Member>> {
    const file = JSON.parse(await readFile(path.join(this.dir, 'members.json'), 'utf8')) as {
      members: Record<string, Member>;
    };
    return file.members;
  }
}

/** A request an attacker builds by hand: any keys, proof made with the attacker's identity. */
async function forged(
  hub: TestHub,
  token: string,
  fields: Omit<ProvenJoinFields, 'state_dir'>,
  attacker: AgeKeyPair,
): Promise<{ status: number; body: { error?: string; sealed?: string } }> {
  const all = { ...fields, state_dir: '/var/lib/flotilla/agent' };
  const proof = joinProof(attacker, hub.joinKey.recipient, parseJoinToken(token).nonce, all)!;
  const response = await fetch(`${hub.server.url}${JOIN_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(await sealJson(hub.joinKey.recipient, { token, ...all, proof })),
  });
  return { status: response.status, body: (await response.json()) as { error?: string } };
}

async function ageKeyPair(): Promise<AgeKeyPair> {
  const identity = await age.generateIdentity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

async function refusal(join: Promise<unknown>): Promise<string> {
  const error = await join.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(JoinFailed);
  return (error as JoinFailed).message;
}

describe('join tokens and existing members', () => {
  let dir: string;
  let hub: TestHub;
  /** The real `store` node, joined with its own token. */
  let storeToken: string;
  let storeAnswer: JoinAnswer;
  let storeMember: Member;
  const agent = (name: string) => agentPaths(path.join(dir, name));
  const join = (name: string, options: JoinOptions) => joinHub(agent(name), options);

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-join-attack-'));
    hub = await TestHub.create(path.join(dir, 'hub'));
    storeToken = hub.token({ node: 'store' });
    storeAnswer = await join('store', { token: storeToken });
    storeMember = (await hub.membersOnDisk()).store!;
    hub.joined = [];
  });
  afterEach(async () => {
    await hub?.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the member joined with its own keys and state dir', async () => {
    expect(storeAnswer).toMatchObject({
      node: 'store',
      stack: 'joins',
      gateway: false,
      hub_signing_key: 'hub-signing-key-for-test',
      bus: { url: 'nats://100.96.0.1:4222', user: 'store' },
    });
    expect(storeMember).toMatchObject({
      endpoint: '203.0.113.13',
      recipient: (await loadOrCreateIdentity(agent('store').identity)).recipient,
      state_dir: path.join(dir, 'store'),
    });
  });

  it('(a) refuses a second token that names no node, presented for the member', async () => {
    const before = await readFile(path.join(hub.dir, 'members.json'), 'utf8');
    const message = await refusal(join('intruder', { token: hub.token(), node: 'store' }));
    expect(message).toMatch(
      /node store has already joined with other keys: to replace them, run `flotilla node token --node store --replace` on the hub/,
    );
    // The member's public keys with a fresh token, but no proof of its private key.
    const attacker = await ageKeyPair();
    const publicKeys = {
      wireguard_key: storeMember.wireguard_key,
      recipient: storeMember.recipient,
    };
    const posing = await forged(hub, hub.token(), { node: 'store', ...publicKeys }, attacker);
    expect(posing.status).toBe(403);
    expect(posing.body.error).toMatch(/does not prove it holds node store's private key/);
    expect(posing.body.sealed).toBeUndefined();
    expect(await readFile(path.join(hub.dir, 'members.json'), 'utf8')).toBe(before);
    expect(hub.joined).toEqual([]);
  });

  it("(b) refuses the used token replayed with the member's public keys", async () => {
    const before = await readFile(path.join(hub.dir, 'members.json'), 'utf8');
    const attacker = await ageKeyPair();
    // The member's WireGuard key, the attacker's own recipient (and a valid proof for it).
    const own = await forged(
      hub,
      storeToken,
      { node: 'store', wireguard_key: storeMember.wireguard_key, recipient: attacker.recipient },
      attacker,
    );
    expect(own.status).toBe(403);
    expect(own.body.error).toMatch(
      /^this join token was already used, and node store has already joined with other keys/,
    );
    expect(own.body.sealed).toBeUndefined(); // nothing sealed to the attacker
    // Both of the member's public keys, a proof the attacker cannot make.
    const posing = await forged(
      hub,
      storeToken,
      { wireguard_key: storeMember.wireguard_key, recipient: storeMember.recipient },
      attacker,
    );
    expect(posing.status).toBe(403);
    expect(posing.body.error).toMatch(
      /^this join token was already used, and the request does not prove it holds node store's private key/,
    );
    expect(posing.body.sealed).toBeUndefined();
    // An agent of its own with the used token, as `flotilla agent --join` would.
    expect(await refusal(join('intruder', { token: storeToken }))).toMatch(/already used/);
    expect(await readFile(path.join(hub.dir, 'members.json'), 'utf8')).toBe(before);
  });

  it('(c) still refuses used tokens after the hub restarts', async () => {
    // app joins with a token that names no node; then the hub restarts.
    const appToken = hub.token();
    await join('app', { token: appToken, node: 'app' });
    await hub.restart();
    const before = await readFile(path.join(hub.dir, 'members.json'), 'utf8');
    // The used token, for a node that has not joined yet: a fresh join on a forgetful hub.
    expect(await refusal(join('intruder', { token: appToken, node: 'spare' }))).toBe(
      'the hub refused to join this node: this join token was already used: run `flotilla node token` again',
    );
    const attacker = await ageKeyPair();
    const replay = await forged(
      hub,
      storeToken,
      { node: 'store', wireguard_key: storeMember.wireguard_key, recipient: attacker.recipient },
      attacker,
    );
    expect(replay.status).toBe(403);
    expect(replay.body.error).toMatch(/already used/);
    expect(await readFile(path.join(hub.dir, 'members.json'), 'utf8')).toBe(before);
    expect(Object.keys(await hub.membersOnDisk()).sort()).toEqual(['app', 'gw', 'store']);
  });

  it('(d) lets the member itself join again with its used token: same answer, nothing changed', async () => {
    const before = await readFile(path.join(hub.dir, 'members.json'), 'utf8');
    expect(await join('store', { token: storeToken })).toEqual(storeAnswer);
    await hub.restart();
    expect(await join('store', { token: storeToken, node: 'store' })).toEqual(storeAnswer);
    // A fresh token that names no node works the same way for it.
    const fresh = hub.token();
    expect(await join('store', { token: fresh, node: 'store' })).toEqual({
      ...storeAnswer,
      nonce: parseJoinToken(fresh).nonce,
    });
    expect(await readFile(path.join(hub.dir, 'members.json'), 'utf8')).toBe(before);
    expect(hub.joined).toEqual([]);
    // Joining again does not move it: another address is a replacement.
    expect(await refusal(join('store', { token: storeToken, address: '203.0.113.99' }))).toMatch(
      /node store has joined at 203\.0\.113\.13, not 203\.0\.113\.99: to move it, run `flotilla node token --node store --replace`/,
    );
    expect(await readFile(path.join(hub.dir, 'members.json'), 'utf8')).toBe(before);
  });

  it('records the state dir of a member saved before agents sent one, and nothing else', async () => {
    const older: Member = { ...storeMember };
    delete older.state_dir;
    const file = path.join(hub.dir, 'members.json');
    const all = await hub.membersOnDisk();
    await writeFile(file, JSON.stringify({ members: { ...all, store: older } }));
    await hub.restart();
    expect(await join('store', { token: storeToken })).toEqual(storeAnswer);
    expect((await hub.membersOnDisk()).store).toEqual(storeMember);
    expect(hub.joined).toEqual([{ node: 'store' }]);
  });

  it('(e) gives the member new keys with a --replace token for it, and only then', async () => {
    const token = hub.token({ node: 'store', replace: true });
    // Not for another node.
    expect(await refusal(join('other', { token, node: 'app' }))).toMatch(
      /this join token is for node store, not app/,
    );
    const answer = await join('new-store', { token });
    expect(answer).toMatchObject({ node: 'store', hub_signing_key: 'hub-signing-key-for-test' });
    const replaced = (await hub.membersOnDisk()).store!;
    const newRecipient = (await loadOrCreateIdentity(agent('new-store').identity)).recipient;
    expect(replaced.recipient).toBe(newRecipient);
    expect(replaced.recipient).not.toBe(storeMember.recipient);
    expect(replaced.wireguard_key).not.toBe(storeMember.wireguard_key);
    expect(replaced.state_dir).toBe(path.join(dir, 'new-store'));
    expect(hub.joined).toEqual([{ node: 'store', replaced: storeMember }]);
    // The old machine is now the one with other keys; the replace token is used up.
    expect(await refusal(join('store', { token: storeToken }))).toMatch(
      /already used, and node store has already joined with other keys/,
    );
    expect(await refusal(join('third', { token }))).toMatch(/already used/);
    // The new machine joins again like any member.
    expect(await join('new-store', { token })).toEqual(answer);
    expect((await hub.membersOnDisk()).store).toEqual(replaced);
  });
});

describe('flotilla node token --replace', () => {
  it('is a usage error without --node, or on another verb', async () => {
    const bare = await flotilla(['node', 'token', '--replace']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(
      /--replace gives one node new keys: `flotilla node token --node NAME --replace`/,
    );
    expect(bare.stdout).toBe('');
    const ls = await flotilla(['node', 'ls', '--replace', '--node', 'db']);
    expect(ls.code).toBe(2);
  });
});
