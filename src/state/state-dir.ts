// A stack's (or an agent's) state directory. It stays traversable: Caddy's user and the
// services' users reach their own directories inside it (storage, data). What is private in
// it (bus, hub, agent, secrets, logs) is a 0700 directory of its own. Made this way by
// whichever comes first: the daemon, the agent, or the secret store.
import { chmod, mkdir } from 'node:fs/promises';

export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
}
