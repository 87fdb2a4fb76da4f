// Issue 10: network segments were enforced only between nodes; on one node any process
// reached any service over loopback. The attack here: on one node, `spy` (segment ops,
// running as nobody) connects to `db` (segment data) over 127.0.0.1, ::1 and another local
// address, and tries to leave its cgroup first; `api` (segment data) does the same and must
// be served, and so must a process outside any service (the agent's health checks).
//
// Everything runs as the agent would, inside a private network namespace: plan's desired
// state, the SegmentEnforcer loading the node's table, ProcessSupervisor starting each
// service in its cgroup. The driver enters the namespace with `nsenter --net` (not `ip netns
// exec`, which mounts a fresh /sys and so hides the cgroup2 mount).
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroup2Mount } from '../../src/agent/process/cgroup.ts';

const run = promisify(execFile);
const mount = cgroup2Mount();

const id = randomBytes(3).toString('hex');
const STACK = `seg${id}`;
const NETNS = `flotilla-seg-${id}`;
const OTHER_LOCAL = '198.51.100.1';
const DB_PORT = 20_000 + (parseInt(id, 16) % 20_000);

/** A client service: tries to leave its cgroup, then connects to db at every local address. */
const CLIENT = `
const fs = require('node:fs');
const net = require('node:net');
const [cgroupRoot, port, ...hosts] = process.argv.slice(1);
let escaped;
try { fs.writeFileSync(cgroupRoot + '/cgroup.procs', String(process.pid)); escaped = 'left its cgroup'; }
catch (error) { escaped = error.code; }
Promise.all(hosts.map((host) => new Promise((resolve) => {
  const socket = net.connect({ host, port: Number(port) });
  const done = (verdict) => { socket.destroy(); resolve([host, verdict]); };
  socket.setTimeout(2000, () => done('no answer'));
  socket.once('data', () => done('served'));
  socket.once('error', (error) => done(error.code === 'ECONNREFUSED' ? 'refused' : error.code));
}))).then((results) => console.log(JSON.stringify({ escaped, ...Object.fromEntries(results) })));
`;

const SERVER = `
require('node:net').createServer((socket) => socket.end('hello\\n')).listen(Number(process.argv[1]));
`;

const client = JSON.stringify(CLIENT);
const stackText = `
name: ${STACK}
nodes:
  local: { address: 127.0.0.1 }
networks: { data: {}, ops: {} }
services:
  db:
    networks: [data]
    run: { command: [${process.execPath}, -e, ${JSON.stringify(SERVER)}, '${DB_PORT}'], user: nobody }
    ports: { main: ${DB_PORT} }
  api:
    networks: [data]
    run: { command: [${process.execPath}, -e, ${client}, ${mount}, '${DB_PORT}', 127.0.0.1, '::1', ${OTHER_LOCAL}], user: nobody }
  spy:
    networks: [ops]
    run: { command: [${process.execPath}, -e, ${client}, ${mount}, '${DB_PORT}', 127.0.0.1, '::1', ${OTHER_LOCAL}], user: nobody }
`;

const src = (file: string) => JSON.stringify(pathToFileURL(path.resolve('src', file)).href);

/** The agent's part, run inside the namespace; prints one JSON line of what it saw. */
const DRIVER = `
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { ProcessSupervisor } from ${src('agent/process/supervisor.ts')};
import { SegmentEnforcer } from ${src('agent/segment-enforcer.ts')};
import { cgroup2Mount, cgroupOf, removeCgroup } from ${src('agent/process/cgroup.ts')};
import { desiredState } from ${src('plan/desired.ts')};
import { allocateMeshAddresses } from ${src('plan/mesh-addresses.ts')};
import { placeInstances } from ${src('plan/placement.ts')};
import { computeReachability } from ${src('plan/reachability.ts')};
import { parseStackText } from ${src('spec/load.ts')};

const dir = process.argv[2];
const loaded = parseStackText(readFileSync(path.join(dir, 'flotilla.yml'), 'utf8'), 'flotilla.yml');
if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
const stack = loaded.stack;
const node = desiredState(stack, placeInstances(stack), allocateMeshAddresses(stack),
  computeReachability(stack), { stackDir: dir, stateDir: dir }).local;
const enforcer = new SegmentEnforcer();
if (enforcer.unavailable) throw new Error(enforcer.unavailable);

const instanceOf = (service) => node.instances.find((candidate) => candidate.service === service);
const supervise = (service, cgroup = enforcer.cgroupFor(instanceOf(service).runtime.cgroup)) => {
  const instance = instanceOf(service);
  return new ProcessSupervisor({
    id: instance.id,
    command: instance.runtime.command,
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    user: instance.runtime.user,
    cgroup,
    stop: { signal: 'SIGTERM', timeoutMs: 2000 },
    restart: 'never',
    logDir: path.join(dir, 'logs'),
    stateDir: path.join(dir, 'state'),
  });
};
const runClient = async (service, cgroup) => {
  const supervisor = supervise(service, cgroup);
  const exited = once(supervisor, 'exited');
  await supervisor.start();
  await exited;
  await supervisor.stop();
  const lines = readFileSync(supervisor.logFile, 'utf8').trim().split('\\n');
  return JSON.parse(lines.at(-1));
};
const outside = () => new Promise((resolve) => {
  const socket = connect({ host: '127.0.0.1', port: ${DB_PORT} });
  socket.once('data', () => { socket.destroy(); resolve('served'); });
  socket.once('error', (error) => resolve(error.code));
});

// The supervisor unrefs its children, as an agent does; an agent's event loop stays alive
// anyway (its bus connection), this script's needs holding open until it is done.
const alive = setInterval(() => {}, 1000);
const result = {};
try {
  enforcer.cgroupFor(instanceOf('db').runtime.cgroup);
  result.beforeApply = 'would start';
} catch (error) {
  result.beforeApply = error.message;
}
await enforcer.apply(node.segments);
const db = supervise('db');
try {
  await db.start();
  result.dbCgroup = cgroupOf(db.status.pid);
  for (let tries = 0; (await outside()) !== 'served'; tries++) {
    if (tries === 100) throw new Error('db never listened: ' + JSON.stringify(db.status) + readFileSync(db.logFile, 'utf8'));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  result.api = await runClient('api');
  result.spy = await runClient('spy');
  // Its cgroup made again after the table was loaded: a new id, unknown to the table.
  if (!removeCgroup(cgroup2Mount(), instanceOf('spy').runtime.cgroup)) throw new Error('spy cgroup busy');
  result.spyRemade = await runClient('spy', instanceOf('spy').runtime.cgroup);
  result.outside = await outside();
  await enforcer.remove(node.segments);
  result.spyWithoutTable = await runClient('spy', instanceOf('spy').runtime.cgroup);
} finally {
  await db.stop();
  await enforcer.remove(node.segments);
  clearInterval(alive);
}
console.log('RESULT ' + JSON.stringify(result));
`;

describe.skipIf(process.getuid?.() !== 0 || mount === undefined)(
  'network segments between the native services of one node',
  () => {
    let dir: string;
    let driverPid: number | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-segments-'));
      await run('ip', ['netns', 'add', NETNS]);
      await run('ip', ['netns', 'exec', NETNS, 'ip', 'link', 'set', 'lo', 'up']);
      await run('ip', [
        'netns',
        'exec',
        NETNS,
        'ip',
        'addr',
        'add',
        `${OTHER_LOCAL}/32`,
        'dev',
        'lo',
      ]);
    });

    afterAll(async () => {
      if (driverPid !== undefined) {
        try {
          process.kill(driverPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      // Whatever a failed run left in the stack's cgroups: killed by the PIDs listed there.
      const stackDir = path.join(mount!, 'flotilla', STACK);
      const cgroups = existsSync(stackDir)
        ? readdirSync(stackDir, { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isDirectory())
            .map((entry) => path.join(entry.parentPath, entry.name))
            .sort((a, b) => b.length - a.length)
        : [];
      for (const cgroup of cgroups) {
        for (const pid of readFileSync(path.join(cgroup, 'cgroup.procs'), 'utf8').split('\n'))
          if (pid !== '') process.kill(Number(pid), 'SIGKILL');
      }
      for (const cgroup of [...cgroups, stackDir]) {
        try {
          rmdirSync(cgroup);
        } catch {
          // gone already, or the kill has not landed yet: nothing of ours is left running
        }
      }
      await run('ip', ['netns', 'del', NETNS]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses a service from another segment at every local address, serves a granted one and processes outside services', async () => {
      await writeFile(path.join(dir, 'flotilla.yml'), stackText);
      await writeFile(path.join(dir, 'driver.mts'), DRIVER);
      const child = spawn(
        'nsenter',
        [
          `--net=/run/netns/${NETNS}`,
          process.execPath,
          '--import',
          'tsx',
          path.join(dir, 'driver.mts'),
          dir,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      driverPid = child.pid;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, stderr).toBe(0);
      const line = stdout.split('\n').find((text) => text.startsWith('RESULT '));
      const result = JSON.parse(line!.slice('RESULT '.length));

      // No service starts before the table is loaded.
      expect(result.beforeApply).toBe('the segment table of this node is not loaded yet');
      expect(result.dbCgroup).toBe(`/flotilla/${STACK}/local/db`);
      const everywhere = (verdict: string) => ({
        '127.0.0.1': verdict,
        '::1': verdict,
        [OTHER_LOCAL]: verdict,
      });
      expect(result.api).toEqual({ escaped: 'EACCES', ...everywhere('served') });
      expect(result.spy).toEqual({ escaped: 'EACCES', ...everywhere('refused') });
      // A cgroup the table does not know (made again since) is refused by its catch-all.
      expect(result.spyRemade).toEqual({ escaped: 'EACCES', ...everywhere('refused') });
      expect(result.outside).toBe('served');
      // The refusal is the table's: without it the same spy is served.
      expect(result.spyWithoutTable).toEqual({ escaped: 'EACCES', ...everywhere('served') });
      // Nothing is left behind: the table went with remove(), and so did the cgroups.
      expect(existsSync(path.join(mount!, 'flotilla', STACK))).toBe(false);
    }, 120_000);
  },
);
