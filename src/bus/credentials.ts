// Bus users and their passwords. Generated once and kept (0600) in the bus directory, so a
// restarted nats-server accepts the same agents; a node that leaves the stack loses its user.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { readPrivateJson, writePrivateJson } from '../state/private-json.ts';
import { agentPermissions, hubPermissions, type Permissions } from '../protocol/permissions.ts';
import { assertNodeId } from '../protocol/subjects.ts';

const HUB_USER = 'hub';

export interface Credentials {
  user: string;
  pass: string;
}

/** A user as nats-server's config declares it. */
export interface BusUser {
  user: string;
  password: string;
  permissions: Permissions;
}

export interface BusCredentials {
  hub: Credentials;
  /** node id → that node's agent credentials */
  agents: Record<string, Credentials>;
}

const fileSchema = z.object({ passwords: z.record(z.string(), z.string().min(32)) });

function agentUser(node: string): string {
  return `agent-${assertNodeId(node)}`;
}

export function credentialsPath(dir: string): string {
  return path.join(dir, 'credentials.json');
}

function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Loads the hub's and these nodes' credentials, creating missing ones; other nodes are dropped. */
export async function ensureCredentials(
  dir: string,
  nodes: readonly string[],
  /** Nodes that get a new password: a node given new keys must not keep the old machine's login. */
  renew: readonly string[] = [],
): Promise<BusCredentials> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = credentialsPath(dir);
  const existing = (await readPrivateJson(file, fileSchema))?.passwords ?? {};
  const users = [HUB_USER, ...nodes.map(agentUser)];
  const renewed = new Set(renew.map(agentUser));
  const passwords = Object.fromEntries(
    users.map((user) => [
      user,
      renewed.has(user) ? newPassword() : (existing[user] ?? newPassword()),
    ]),
  );
  const unchanged =
    Object.keys(existing).length === users.length &&
    users.every((user) => existing[user] === passwords[user]);
  // Written aside and renamed: a crash mid-write must not lose every node's password.
  if (!unchanged) await writePrivateJson(file, { passwords });
  await chmod(file, 0o600);
  const credentials = (user: string): Credentials => ({ user, pass: passwords[user]! });
  return {
    hub: credentials(HUB_USER),
    agents: Object.fromEntries(nodes.map((node) => [node, credentials(agentUser(node))])),
  };
}

/** The users nats-server must know, each with its role's permissions. */
export function busUsers(credentials: BusCredentials): BusUser[] {
  return [
    { user: credentials.hub.user, password: credentials.hub.pass, permissions: hubPermissions() },
    ...Object.entries(credentials.agents).map(([node, { user, pass }]) => ({
      user,
      password: pass,
      permissions: agentPermissions(node),
    })),
  ];
}
