// Caddy's admin API can replace everything Caddy does, so it listens on a unix socket in a
// 0700 directory owned by Caddy's user: only that user and root reach it. Never on TCP: a
// loopback port answers every local user (as `nobody`, `POST /load` on 127.0.0.1:2019 once
// made a root Caddy serve /etc/shadow). Caddy's metrics and pprof live on the same listener.
import http from 'node:http';
import path from 'node:path';

/** sun_path holds 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH = 107;

/** The admin socket of the Caddy whose files live in `caddyDir`. */
export function adminSocketPath(caddyDir: string): string {
  return path.join(path.resolve(caddyDir), 'admin', 'admin.sock');
}

export function checkSocketPath(socket: string): void {
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new Error(
      `Caddy's admin socket ${socket} is longer than ${MAX_SOCKET_PATH} bytes, the limit of a ` +
        'unix socket path: use a shorter state directory',
    );
  }
}

/**
 * The `admin` object of every config Caddy runs. Not persisted: the agent gives Caddy its
 * config, never a file Caddy saved. No origins: on a unix socket Caddy then accepts only an
 * empty Host (no browser can send one, nor reach the socket), and enforce_origin would add
 * nothing but an Origin check browsers are already kept out by.
 */
export function adminSettings(socket: string): { listen: string; config: { persist: false } } {
  return { listen: `unix/${socket}`, config: { persist: false } };
}

export function adminRequest(
  socket: string,
  method: string,
  pathname: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        socketPath: socket,
        path: pathname,
        method,
        agent: false,
        timeout: 10_000,
        // The empty Host Caddy's admin API requires on a unix socket (Node adds none itself).
        setHost: false,
        headers: { Host: '', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('caddy admin API timed out')));
    request.on('error', reject);
    request.end(body);
  });
}
