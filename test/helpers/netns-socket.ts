// A connection into a lab namespace for a test process in the host's namespace (which has no
// route there): a tcp-stdio-bridge.mjs inside the namespace, its stdin and stdout as one
// Duplex (an SSH client's `sock`). The bridge is stopped by its PID when the Duplex closes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';

const BRIDGE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tcp-stdio-bridge.mjs');

/** A TCP connection to host:port made from inside `namespace`. */
export function netnsSocket(namespace: string, host: string, port: number): Duplex {
  const child = spawn(
    'ip',
    ['netns', 'exec', namespace, process.execPath, BRIDGE, host, String(port)],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  const pid = child.pid;
  const socket = Duplex.from({ readable: child.stdout, writable: child.stdin });
  // The SSH client reports a connection's failure itself; the bridge's ending is no news.
  socket.on('error', () => undefined);
  socket.once('close', () => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null)
      process.kill(pid, 'SIGTERM');
  });
  return socket;
}
