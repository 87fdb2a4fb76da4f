// The membership an agent keeps after joining: today's answer as saved, and files saved by
// older agents (gateway as `{ admin_listen }`, no hub signing key) read or refused with a hint.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  agentPaths,
  JoinFailed,
  readMembership,
  type AgentPaths,
} from '../../src/daemon/membership.ts';
import { writePrivateJson } from '../../src/state/private-json.ts';

const ANSWER = {
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
  node: 'edge',
  stack: 'shop',
  bus: { url: 'nats://100.96.0.1:4222', user: 'edge', pass: 'secret' },
};

describe('readMembership', () => {
  let dir: string;
  let paths: AgentPaths;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-membership-'));
    paths = agentPaths(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is undefined before the node joined, and the saved answer after', async () => {
    expect(await readMembership(paths)).toBeUndefined();
    const saved = { ...ANSWER, gateway: true, hub_signing_key: 'key' };
    await writePrivateJson(paths.membership, saved);
    expect(await readMembership(paths)).toEqual(saved);
  });

  it("reads an older file's gateway ({ admin_listen } or absent) as a boolean", async () => {
    await writePrivateJson(paths.membership, {
      ...ANSWER,
      gateway: { admin_listen: '127.0.0.1:2019' },
      hub_signing_key: 'key',
    });
    expect(await readMembership(paths)).toMatchObject({ gateway: true });
    await writePrivateJson(paths.membership, { ...ANSWER, hub_signing_key: 'key' });
    expect(await readMembership(paths)).toMatchObject({ gateway: false });
  });

  it('refuses a file without the hub signing key, saying how to join again', async () => {
    await writePrivateJson(paths.membership, { ...ANSWER, gateway: { admin_listen: ':2019' } });
    const error = await readMembership(paths).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(JoinFailed);
    expect((error as Error).message).toBe(
      `${paths.membership} was saved by an older Flotilla and lacks the hub's signing key: run \`flotilla node token --node edge\` on the hub, then \`flotilla agent --join <token>\` here (with this state dir, the node keeps its keys)`,
    );
  });

  it('refuses anything else that is not a membership', async () => {
    await writePrivateJson(paths.membership, { ...ANSWER, gateway: 'yes', hub_signing_key: 'k' });
    await expect(readMembership(paths)).rejects.toThrow(
      /not in the expected format; fix or remove it/,
    );
  });
});
