// Secret files (`secret_files:`): each of an instance's secrets as a file only the user
// it runs as can read, in memory (/run) when the agent is root so a secret never reaches a
// disk or outlives a reboot. Layout and modes, so that no other local user (another
// service's included) can read, list or even stat them:
//   /run/flotilla          0711 root  every agent's on this machine: traversable, not listable
//   …/<hash of state dir>  0711 root  this agent's (AgentPaths.secretFiles)
//   …/<instance>           0500 user  only the service's user gets in
//   …/<instance>/<NAME>    0400 user
// An image service's files are bind-mounted into its container (the engine, as root, gets
// through the directories): the file is the container user's when `user:` is numeric, and
// 0444 when it is a name only the image's /etc/passwd knows (every user of that one
// container may read it; on the host the directory above stays root's).
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DesiredInstance } from '../plan/desired.ts';
import {
  InstanceSpecError,
  secretDir,
  secretFilePath,
  type AgentPaths,
  type SecretLookup,
} from './process-spec.ts';
import { resolveUser } from '../system/users.ts';

const RUN_DIR = '/run/flotilla';

/** Where an agent with state in `stateDir` keeps its secret files (AgentPaths.secretFiles). */
export function secretFilesRoot(stateDir: string): string {
  if (process.getuid?.() !== 0) return path.join(stateDir, 'agent', 'secret-files');
  return path.join(RUN_DIR, createHash('sha256').update(stateDir).digest('hex').slice(0, 12));
}

/** Every directory above the instances' that must let their users through, top first. */
function commonParents(paths: AgentPaths): string[] {
  const root = paths.secretFiles;
  return path.dirname(root) === RUN_DIR ? [RUN_DIR, root] : [root];
}

/**
 * Writes the instance's `secret_files`, readable by exactly the user it runs as (the
 * agent's, when it names none). Every value is looked up before anything is written, and
 * the instance's directory is made anew each time: what the service's user may have
 * planted there (a symlink to /etc/shadow) is removed, never written through.
 */
export function writeSecretFiles(
  paths: AgentPaths,
  instance: DesiredInstance,
  secrets: SecretLookup,
): void {
  const dir = secretDir(paths, instance.id);
  rmSync(dir, { recursive: true, force: true });
  if (instance.secret_files.length === 0) return;
  const values = instance.secret_files.map((name) => {
    const value = secrets(name);
    if (value === undefined)
      throw new InstanceSpecError(`secret ${name} is not set (flotilla secrets set ${name})`);
    return [name, value] as const;
  });
  const { owner, fileMode, ownsDir } = fileOwner(instance);
  for (const parent of commonParents(paths)) {
    mkdirSync(parent, { recursive: true, mode: 0o711 });
    // Also when it was there already (made by an older agent as 0700).
    chmodSync(parent, 0o711);
  }
  // Root's until every file is in: the user gets the directory only once it is complete.
  mkdirSync(dir, { mode: 0o700 });
  for (const [name, value] of values) {
    const file = secretFilePath(paths, instance.id, name);
    writeFileSync(file, value, { mode: fileMode, flag: 'wx' });
    if (owner) chownSync(file, owner.uid, owner.gid);
  }
  if (!owner || !ownsDir) return;
  chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o500);
}

/** Who the files are for: the service's user on the host, or its container's user. */
function fileOwner(instance: DesiredInstance): {
  owner: { uid: number; gid: number } | undefined;
  fileMode: number;
  /** A process's user enters the directory itself; a container's files are mounted. */
  ownsDir: boolean;
} {
  const { runtime } = instance;
  if (runtime.kind === 'process') {
    const owner = runtime.user === undefined ? undefined : resolveUser(runtime.user);
    return { owner, fileMode: 0o400, ownsDir: true };
  }
  const name = runtime.user?.split(':')[0];
  // The image's default user, or root by name: root reads a 0400 file of root's.
  if (name === undefined || name === 'root')
    return { owner: undefined, fileMode: 0o400, ownsDir: false };
  const numeric = /^(\d+)(?::(\d+))?$/.exec(runtime.user!);
  if (!numeric) return { owner: undefined, fileMode: 0o444, ownsDir: false };
  const uid = Number(numeric[1]);
  return { owner: { uid, gid: Number(numeric[2] ?? 0) }, fileMode: 0o400, ownsDir: false };
}

/** Removes one instance's secret files (it is no longer desired here). */
export function removeSecretFiles(paths: AgentPaths, instance: string): void {
  rmSync(secretDir(paths, instance), { recursive: true, force: true });
}

/** Removes every instance's secret files (the agent stops them all). */
export function removeAllSecretFiles(paths: AgentPaths): void {
  rmSync(paths.secretFiles, { recursive: true, force: true });
}
