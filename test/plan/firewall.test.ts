// The per-node nftables ruleset: its rules, the real `nft -c` parser's verdict on it, and,
// inside throwaway network namespaces, real connections it lets through or drops.
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUS_PORT } from '../../src/plan/firewall-access.ts';
import { firewallRules, firewallRuleset, type FirewallRule } from '../../src/plan/firewall.ts';
import { allocateMeshAddresses } from '../../src/plan/mesh-addresses.ts';
import { placeInstances } from '../../src/plan/placement.ts';
import { computeReachability } from '../../src/plan/reachability.ts';
import { parseStackText } from '../../src/spec/load.ts';
import type { Stack } from '../../src/spec/schema.ts';
import { PROBER, startListener } from './netns-scripts.ts';

const run = promisify(execFile);

function stackFrom(text: string): Stack {
  const result = parseStackText(text, 'flotilla.yml');
  if (!result.ok)
    throw new Error(result.diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`).join('\n'));
  return result.stack;
}

function inputFor(stack: Stack, node: string) {
  return {
    stack,
    node,
    instances: placeInstances(stack),
    meshAddresses: allocateMeshAddresses(stack),
    reachability: computeReachability(stack),
  };
}

const rulesOf = (stack: Stack, node: string) => firewallRules(inputFor(stack, node));
const rulesetOf = (stack: Stack, node: string) => firewallRuleset(inputFor(stack, node));
const ruleFor = (rules: FirewallRule[], comment: string) =>
  rules.find((rule) => rule.comment === comment);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'flotilla-fw-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let written = 0;
async function writeRuleset(text: string): Promise<string> {
  const file = path.join(scratch, `ruleset-${written++}.nft`);
  await writeFile(file, text);
  return file;
}

/** `nft -c` parses and validates against the kernel without committing anything. */
async function expectNftAccepts(text: string): Promise<void> {
  await expect(run('nft', ['-c', '-f', await writeRuleset(text)])).resolves.toBeDefined();
}

const TWO_NODES = `
name: salem
nodes:
  storage: { address: 203.0.113.10, labels: [storage] }
  compute: { address: 203.0.113.11, labels: [compute], gateway: true, ssh: { port: 2222 } }
gateway: { http_port: 8080, https_port: 8443 }
services:
  postgres: { node: storage, run: { command: [postgres] }, ports: { main: 5432 } }
  api:
    node: compute
    replicas: 2
    run: { command: [node, server.js] }
    ports: { http: 3000 }
    routes: [{ host: api.example.com }]
`;

describe('firewallRuleset', () => {
  it('one node: public ssh, gateway and mesh ports, and no service port open to anyone', async () => {
    const stack = stackFrom(`
name: solo
nodes: { box: { address: 203.0.113.5, gateway: true } }
services:
  redis: { run: { command: [redis-server] }, ports: { main: 6379 } }
  web: { run: { command: [web] }, ports: { http: 3000 }, routes: [{ host: web.example.com }] }
`);
    expect(rulesOf(stack, 'box')).toEqual([
      { protocol: 'tcp', ports: [22], comment: 'ssh' },
      { protocol: 'tcp', ports: [80, 443], comment: 'gateway http, https' },
      { protocol: 'udp', ports: [443], comment: 'gateway http/3' },
      { protocol: 'udp', ports: [51820], comment: 'mesh (wireguard)' },
    ]);
    const text = rulesetOf(stack, 'box');
    expect(text).toMatch(/^# Flotilla firewall of node "box" in stack "solo"/);
    expect(text).toContain('type filter hook input priority filter; policy drop;');
    expect(text).not.toContain('chain output');
    await expectNftAccepts(text);
  });

  it('two nodes: postgres on storage accepts only compute, over the mesh; 80/443 only on the gateway', async () => {
    const stack = stackFrom(TWO_NODES);
    const mesh = allocateMeshAddresses(stack);
    const storage = rulesOf(stack, 'storage');
    expect(ruleFor(storage, 'postgres:main from api')).toEqual({
      protocol: 'tcp',
      ports: [5432],
      iifname: 'flo-storage',
      from: [mesh['compute']],
      comment: 'postgres:main from api',
    });
    expect(storage.flatMap((rule) => rule.ports)).not.toContain(8080);
    expect(storage.flatMap((rule) => rule.ports)).not.toContain(8443);
    expect(ruleFor(storage, 'ssh')?.ports).toEqual([22]);

    const compute = rulesOf(stack, 'compute');
    expect(ruleFor(compute, 'ssh')?.ports).toEqual([2222]);
    expect(ruleFor(compute, 'gateway http, https')?.ports).toEqual([8080, 8443]);
    // The hub's bus on the (first) gateway, from the other node over the mesh only.
    expect(ruleFor(compute, 'bus (nats) from the agents')).toEqual({
      protocol: 'tcp',
      ports: [BUS_PORT],
      iifname: 'flo-compute',
      from: [mesh['storage']],
      comment: 'bus (nats) from the agents',
    });
    // Both api replicas share compute, on base+offset ports; storage reaches them (same segment).
    expect(ruleFor(compute, 'api:http from postgres')?.ports).toEqual([3000, 3001]);
    expect(ruleFor(storage, 'bus (nats) from the agents')).toBeUndefined();

    const text = rulesetOf(stack, 'storage');
    expect(text).toContain(
      `iifname "flo-storage" ip saddr ${mesh['compute']} tcp dport 5432 accept comment "postgres:main from api"`,
    );
    await expectNftAccepts(text);
    await expectNftAccepts(rulesetOf(stack, 'compute'));
  });

  it('segments: a service in another segment gets no way in, the gateway reaches routed replicas', async () => {
    const stack = stackFrom(`
name: seg
nodes:
  edge: { address: 203.0.113.1, gateway: true }
  app: { address: 203.0.113.2 }
  data: { address: 203.0.113.3 }
  tools: { address: 203.0.113.4 }
networks:
  backend: { internal: true }
  ops: { egress: true }
services:
  db: { node: data, networks: [backend], run: { command: [postgres] }, ports: { main: 5432 } }
  api:
    node: app
    replicas: 2
    networks: [backend, default]
    run: { command: [api] }
    ports: { http: 3000 }
    routes: [{ host: api.example.com }]
  metrics: { node: tools, networks: [ops], run: { command: [prom] }, ports: { http: 9090 } }
`);
    const mesh = allocateMeshAddresses(stack);
    const data = rulesOf(stack, 'data');
    expect(ruleFor(data, 'db:main from api')?.from).toEqual([mesh['app']]);
    const openOnData = data
      .filter((rule) => rule.iifname !== undefined)
      .flatMap((rule) => rule.from ?? []);
    expect(openOnData).not.toContain(mesh['tools']);
    expect(openOnData).not.toContain(mesh['edge']);

    const app = rulesOf(stack, 'app');
    // Both replicas on app, on base+offset ports; db shares the backend segment with api.
    expect(ruleFor(app, 'api:http from db, gateway')).toMatchObject({
      ports: [3000, 3001],
      from: [mesh['edge'], mesh['data']],
    });
    // metrics shares no segment with anyone: nothing may reach it.
    expect(rulesOf(stack, 'tools').some((rule) => rule.comment.startsWith('metrics:'))).toBe(false);
    for (const node of Object.keys(stack.nodes)) await expectNftAccepts(rulesetOf(stack, node));
  });

  it('an allowlist of CIDRs reaches redis from any interface, not only the mesh', async () => {
    const stack = stackFrom(`
name: cache
nodes:
  edge: { address: 203.0.113.1, gateway: true }
  cache: { address: 203.0.113.2 }
networks: { private: {} }
services:
  redis: { node: cache, networks: [private], run: { command: [redis-server] }, ports: { main: 6379 } }
firewall:
  allow:
    - { from: [198.51.100.0/24, 203.0.113.7, edge], to: redis.main, comment: managed platform }
`);
    const cache = rulesOf(stack, 'cache');
    expect(ruleFor(cache, 'redis:main from 198.51.100.0/24, 203.0.113.7/32 (allow)')).toEqual({
      protocol: 'tcp',
      ports: [6379],
      from: ['198.51.100.0/24', '203.0.113.7/32'],
      comment: 'redis:main from 198.51.100.0/24, 203.0.113.7/32 (allow)',
    });
    expect(ruleFor(cache, 'redis:main from node:edge')?.iifname).toBe('flo-cache');
    const text = rulesetOf(stack, 'cache');
    expect(text).toContain('ip saddr { 198.51.100.0/24, 203.0.113.7/32 } tcp dport 6379 accept');
    await expectNftAccepts(text);
  });

  it('tailscale: service ports on tailscale0, the tailscale UDP port public', async () => {
    const stack = stackFrom(
      TWO_NODES.replace('name: salem', 'name: salem\nmesh: { provider: tailscale }'),
    );
    const storage = rulesOf(stack, 'storage');
    expect(ruleFor(storage, 'postgres:main from api')?.iifname).toBe('tailscale0');
    expect(ruleFor(storage, 'mesh (tailscale)')?.ports).toEqual([41641]);
    await expectNftAccepts(rulesetOf(stack, 'storage'));
  });

  it('clips comments to the 128 characters nft allows', async () => {
    const clients = Array.from({ length: 8 }, (_, i) => `client-with-a-rather-long-name-${i}`);
    const stack = stackFrom(`
name: many
nodes: { a: { address: 203.0.113.1, gateway: true }, b: { address: 203.0.113.2 } }
services:
  db: { node: b, run: { command: [db] }, ports: { main: 5432 } }
${clients.map((name) => `  ${name}: { node: a, run: { command: [x] } }`).join('\n')}
`);
    const comment = rulesetOf(stack, 'b').match(/comment "(db:main from [^"]*)"/)?.[1];
    expect(comment).toHaveLength(128);
    expect(comment).toMatch(/\.\.\.$/);
    await expectNftAccepts(rulesetOf(stack, 'b'));
  });

  it('is deterministic', () => {
    expect(rulesetOf(stackFrom(TWO_NODES), 'storage')).toBe(
      rulesetOf(stackFrom(TWO_NODES), 'storage'),
    );
  });
});

// Two namespaces joined by two veth pairs: a mesh link, whose node end carries the mesh
// interface name the ruleset matches, and a public link. The client namespace plays an
// allowed mesh peer, a peer from another segment and an allowlisted outside address.
describe('firewallRuleset applied in a network namespace', () => {
  const id = randomBytes(3).toString('hex');
  const nodeName = `t${id}`;
  const nodeNs = `flotilla-fwtest-${id}-n`;
  const clientNs = `flotilla-fwtest-${id}-c`;
  const namespaces: string[] = [];
  let listener: ChildProcess | undefined;

  const NODE_MESH = '100.96.0.10';
  const PEER_MESH = '100.96.0.20';
  const OTHER_MESH = '100.96.0.30';
  const NODE_PUBLIC = '198.51.100.1';
  const CLIENT_PUBLIC = '198.51.100.7';
  const SSH = 2222;
  const DB = 5432;
  const REDIS = 6379;
  const UNGRANTED = 6000;

  const stack = stackFrom(`
name: fwtest
mesh: { cidr: 100.96.0.0/24 }
nodes:
  ${nodeName}: { address: ${NODE_PUBLIC}, mesh_address: ${NODE_MESH}, ssh: { port: ${SSH} } }
  peer: { address: 203.0.113.20, mesh_address: ${PEER_MESH}, gateway: true }
  other: { address: 203.0.113.30, mesh_address: ${OTHER_MESH} }
networks: { data: {}, ops: {}, alone: {} }
services:
  db: { node: ${nodeName}, networks: [data], run: { command: [db] }, ports: { main: ${DB} } }
  redis: { node: ${nodeName}, networks: [alone], run: { command: [redis] }, ports: { main: ${REDIS} } }
  secret: { node: ${nodeName}, networks: [alone], run: { command: [s] }, ports: { main: ${UNGRANTED} } }
  api: { node: peer, networks: [data], run: { command: [api] } }
  spy: { node: other, networks: [ops], run: { command: [spy] } }
firewall:
  allow: [{ from: [198.51.100.0/28], to: redis }]
`);

  const ns = (name: string, ...argv: string[]) => run('ip', ['netns', 'exec', name, ...argv]);

  beforeAll(async () => {
    for (const name of [nodeNs, clientNs]) {
      await run('ip', ['netns', 'add', name]);
      namespaces.push(name);
      await ns(name, 'ip', 'link', 'set', 'lo', 'up');
      // Replies to the spoofed-source probe come back over the other link.
      await ns(
        name,
        'sysctl',
        '-q',
        '-w',
        'net.ipv4.conf.all.rp_filter=0',
        'net.ipv4.conf.default.rp_filter=0',
      );
    }
    const links = [
      {
        node: `flo-${nodeName}`,
        client: `fwm${id}`,
        nodeAddr: NODE_MESH,
        clientAddrs: [PEER_MESH, OTHER_MESH],
        prefix: 24,
      },
      {
        node: `fwp${id}n`,
        client: `fwp${id}c`,
        nodeAddr: NODE_PUBLIC,
        clientAddrs: [CLIENT_PUBLIC],
        prefix: 24,
      },
    ];
    for (const link of links) {
      await run('ip', [
        'link',
        'add',
        link.node,
        'netns',
        nodeNs,
        'type',
        'veth',
        'peer',
        'name',
        link.client,
        'netns',
        clientNs,
      ]);
      await ns(nodeNs, 'ip', 'addr', 'add', `${link.nodeAddr}/${link.prefix}`, 'dev', link.node);
      for (const address of link.clientAddrs) {
        await ns(clientNs, 'ip', 'addr', 'add', `${address}/${link.prefix}`, 'dev', link.client);
      }
      await ns(nodeNs, 'ip', 'link', 'set', link.node, 'up');
      await ns(clientNs, 'ip', 'link', 'set', link.client, 'up');
    }
    // A table of someone else's that applying ours must leave alone.
    await ns(nodeNs, 'nft', 'add', 'table', 'inet', 'bystander');

    listener = await startListener(nodeNs, [SSH, DB, REDIS, UNGRANTED]);
  });

  afterAll(async () => {
    if (listener?.pid !== undefined && listener.exitCode === null) listener.kill('SIGKILL');
    // Deleting a namespace destroys the veth ends inside it, and with them their peers.
    for (const name of namespaces) await run('ip', ['netns', 'del', name]).catch(() => undefined);
  });

  it('applies atomically, twice, and leaves other tables alone', async () => {
    const file = await writeRuleset(rulesetOf(stack, nodeName));
    await ns(nodeNs, 'nft', '-f', file);
    await ns(nodeNs, 'nft', '-f', file);
    const { stdout: tables } = await ns(nodeNs, 'nft', 'list', 'tables');
    expect(tables.split('\n').filter(Boolean).sort()).toEqual([
      'table inet bystander',
      'table inet flotilla',
    ]);
    const { stdout: listed } = await ns(nodeNs, 'nft', 'list', 'table', 'inet', 'flotilla');
    expect(listed).toContain('policy drop;');
    expect(listed).toContain(
      `iifname "flo-${nodeName}" ip saddr ${PEER_MESH} tcp dport ${DB} accept comment "db:main from api"`,
    );
    expect(listed).toContain(`ip saddr 198.51.100.0/28 tcp dport ${REDIS} accept`);
    expect(listed.match(/chain input/g)).toHaveLength(1);
  });

  it('lets granted sources in and drops everything else (real TCP connections)', async () => {
    // [probe, destination, port, source address, verdict with the ruleset]
    const cases: [string, string, number, string, 'open' | 'dropped'][] = [
      ['peer → db over the mesh', NODE_MESH, DB, PEER_MESH, 'open'],
      ['other segment → db', NODE_MESH, DB, OTHER_MESH, 'dropped'],
      ['peer → ungranted port', NODE_MESH, UNGRANTED, PEER_MESH, 'dropped'],
      ['allowlisted CIDR → redis, public link', NODE_PUBLIC, REDIS, CLIENT_PUBLIC, 'open'],
      ['internet → db, public link', NODE_PUBLIC, DB, CLIENT_PUBLIC, 'dropped'],
      ['internet → ssh', NODE_PUBLIC, SSH, CLIENT_PUBLIC, 'open'],
      // A mesh source address arriving on the public link is forged: dropped, even for ssh
      // (an allowed CIDR that covers mesh addresses would otherwise let it in).
      ['spoofed peer → ssh, public link', NODE_PUBLIC, SSH, PEER_MESH, 'dropped'],
      ['spoofed peer → db, public link', NODE_PUBLIC, DB, PEER_MESH, 'dropped'],
    ];
    const probes = cases.map(([name, host, port, from]) => ({ name, host, port, from }));
    const probe = async () =>
      JSON.parse(
        (await ns(clientNs, process.execPath, '-e', PROBER, JSON.stringify(probes))).stdout,
      );

    // Control: without the table every probe connects, so each drop below is the ruleset's.
    await ns(nodeNs, 'nft', 'delete', 'table', 'inet', 'flotilla').catch(() => undefined);
    expect(await probe()).toEqual(Object.fromEntries(cases.map(([name]) => [name, 'open'])));

    await ns(nodeNs, 'nft', '-f', await writeRuleset(rulesetOf(stack, nodeName)));
    expect(await probe()).toEqual(
      Object.fromEntries(cases.map(([name, , , , verdict]) => [name, verdict])),
    );
  });
});
