// Node scripts the firewall tests run inside network namespaces (`node -e`): a listener on
// many ports and a prober that tells open, refused and dropped connections apart.
import { spawn, type ChildProcess } from 'node:child_process';

/** Listens on every port in argv, on all addresses (IPv4 and IPv6); prints once all are listening. */
export const LISTENER = `
const net = require('node:net');
const ports = process.argv.slice(1).map(Number);
let pending = ports.length;
for (const port of ports) {
  net.createServer((socket) => socket.end()).listen(port, () => {
    if (--pending === 0) process.stdout.write('ready\\n');
  });
}
`;

/** Runs every probe at once: open, refused, or dropped (no answer within 1 s). */
export const PROBER = `
const net = require('node:net');
const probes = JSON.parse(process.argv[1]);
Promise.all(probes.map((probe) => new Promise((resolve) => {
  const socket = net.connect({ host: probe.host, port: probe.port, localAddress: probe.from });
  const done = (verdict) => { socket.destroy(); resolve([probe.name, verdict]); };
  socket.setTimeout(1000, () => done('dropped'));
  socket.once('connect', () => done('open'));
  socket.once('error', (error) => done(error.code === 'ECONNREFUSED' ? 'refused' : error.code));
}))).then((results) => process.stdout.write(JSON.stringify(Object.fromEntries(results))));
`;

/** Starts LISTENER on `ports` inside `namespace`; resolves once it listens on all of them. */
export async function startListener(
  namespace: string,
  ports: readonly number[],
): Promise<ChildProcess> {
  const listener = spawn(
    'ip',
    ['netns', 'exec', namespace, process.execPath, '-e', LISTENER, ...ports.map(String)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    listener.once('exit', (code) => reject(new Error(`listener exited with ${code}`)));
    listener.stdout!.once('data', () => resolve());
  });
  return listener;
}
