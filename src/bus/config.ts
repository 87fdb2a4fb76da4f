// nats-server's config file. Written as JSON, which its config parser accepts: every value
// is then a quoted string, so `$KV…` subjects are never read as config variables and a
// password can't break the syntax.
import type { BusUser } from './credentials.ts';

/** The largest message: a big stack's desired state must fit (nats-server's default is 1 MiB). */
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

export interface ServerConfigOptions {
  /** Stable across restarts: JetStream state is tied to the server's identity. */
  serverName: string;
  host: string;
  port: number;
  storeDir: string;
  pidFile: string;
  users: readonly BusUser[];
  maxMemoryBytes: number;
  maxFileBytes: number;
}

export function renderServerConfig(options: ServerConfigOptions): string {
  const config = {
    server_name: options.serverName,
    host: options.host,
    port: options.port,
    // No `http`/`http_port`: the monitoring endpoint stays off.
    pid_file: options.pidFile,
    max_payload: MAX_PAYLOAD_BYTES,
    jetstream: {
      store_dir: options.storeDir,
      max_memory_store: options.maxMemoryBytes,
      max_file_store: options.maxFileBytes,
    },
    authorization: {
      users: options.users.map(({ user, password, permissions }) => ({
        user,
        password,
        permissions,
      })),
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
