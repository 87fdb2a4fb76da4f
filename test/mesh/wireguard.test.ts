// The WireGuard mesh driver against real wireguard-go in lab namespaces (needs root).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDownState, labUp, planLab, type LabState } from '../../src/lab/lab.ts';
import {
  ensureKeyPair,
  generateKeyPair,
  isWireGuardKey,
  publicKeyOf,
} from '../../src/mesh/keys.ts';
import {
  bringDownInterface,
  bringUpInterface,
  daemonPid,
  interfaceStatus,
  isProcessAlive,
  parseWgDump,
  socketPath,
  wgConfig,
  type InterfaceSpec,
} from '../../src/mesh/wireguard.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const hasWg = await run('wg', ['--version']).then(
  () => true,
  () => false,
);

describe('wgConfig (the whole interface in one `wg syncconf`)', () => {
  const own = generateKeyPair();
  const peer = generateKeyPair().publicKey;
  const spec = (overrides: Partial<InterfaceSpec['peers'][number]> = {}): InterfaceSpec => ({
    name: 'fl-test',
    privateKeyFile: '/unused',
    address: '100.96.0.1/16',
    listenPort: 51820,
    peers: [
      {
        publicKey: peer,
        endpoint: '203.0.113.12:51820',
        allowedIps: ['100.96.0.2/32'],
        ...overrides,
      },
    ],
  });

  it('renders the key, port and each peer with its endpoint, allowed IPs and keepalive', () => {
    expect(wgConfig(spec(), own.privateKey)).toBe(
      [
        '[Interface]',
        `PrivateKey = ${own.privateKey}`,
        'ListenPort = 51820',
        '',
        '[Peer]',
        `PublicKey = ${peer}`,
        'AllowedIPs = 100.96.0.2/32',
        'Endpoint = 203.0.113.12:51820',
        'PersistentKeepalive = 25',
        '',
      ].join('\n'),
    );
  });

  it('refuses a value that would add lines of its own to the line-based config', () => {
    const injected = `${peer}\nEndpoint = 198.51.100.1:1`;
    expect(() => wgConfig(spec({ publicKey: injected }), own.privateKey)).toThrow(
      /invalid WireGuard public key/,
    );
    expect(() =>
      wgConfig(spec({ endpoint: '203.0.113.12:51820\n[Peer]' }), own.privateKey),
    ).toThrow(/invalid WireGuard endpoint/);
    expect(() =>
      wgConfig(spec({ allowedIps: ['0.0.0.0/0\nPublicKey = x'] }), own.privateKey),
    ).toThrow(/invalid WireGuard allowed IP/);
    expect(() => wgConfig(spec(), 'not a key')).toThrow(/private key/);
  });
});

describe('keys', () => {
  it('generates WireGuard-format pairs and derives the same public key as `wg pubkey`', async () => {
    const pair = generateKeyPair();
    expect(isWireGuardKey(pair.privateKey)).toBe(true);
    expect(isWireGuardKey(pair.publicKey)).toBe(true);
    expect(publicKeyOf(pair.privateKey)).toBe(pair.publicKey);
    if (hasWg) {
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
        const child = execFile('wg', ['pubkey'], (error, out) =>
          error ? reject(error) : resolve({ stdout: out }),
        );
        child.stdin?.end(pair.privateKey + '\n');
      });
      expect(stdout.trim()).toBe(pair.publicKey);
    }
  });

  it('stores the private key 0600 once and reuses it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-keys-'));
    try {
      const file = path.join(dir, 'sub', 'private.key');
      const first = await ensureKeyPair(file);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
      expect(publicKeyOf((await readFile(file, 'utf8')).trim())).toBe(first.publicKey);
      expect((await ensureKeyPair(file)).publicKey).toBe(first.publicKey);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseWgDump', () => {
  it('parses the interface and peers, never exposing the private key', () => {
    const dump =
      'PRIV=\tPUB=\t51820\toff\n' +
      'PEER1=\t(none)\t203.0.113.12:51820\t100.96.0.2/32\t1700000000\t92\t180\t25\n' +
      'PEER2=\t(none)\t(none)\t(none)\t0\t0\t0\toff\n';
    const status = parseWgDump(dump);
    expect(JSON.stringify(status)).not.toContain('PRIV=');
    expect(status).toMatchObject({ publicKey: 'PUB=', listenPort: 51820 });
    expect(status.peers[0]).toEqual({
      publicKey: 'PEER1=',
      endpoint: '203.0.113.12:51820',
      allowedIps: ['100.96.0.2/32'],
      latestHandshake: new Date(1_700_000_000_000),
      rxBytes: 92,
      txBytes: 180,
      persistentKeepalive: 25,
    });
    expect(status.peers[1]).toMatchObject({
      endpoint: undefined,
      allowedIps: [],
      latestHandshake: undefined,
      persistentKeepalive: undefined,
    });
  });
});

describe.skipIf(!isRoot || !hasWg)('wireguard-go mesh between two lab nodes', () => {
  const name = `m${randomBytes(4).toString('hex')}`;
  const tag = randomBytes(3).toString('hex');
  // Distinct machine-wide names (the socket dir is shared): flo-<6 hex><n>, 11 characters.
  const ifnames = [`flo-${tag}1`, `flo-${tag}2`];
  let dir: string;
  let previousLabDir: string | undefined;
  let state: LabState;
  let specs: InterfaceSpec[] = [];
  const pids: number[] = [];
  const inNs = (namespace: string, ...argv: string[]) =>
    run('ip', ['netns', 'exec', namespace, ...argv]);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-mesh-'));
    previousLabDir = process.env.FLOTILLA_LAB_DIR;
    process.env.FLOTILLA_LAB_DIR = path.join(dir, 'labs');
    state = await labUp(name, 2);
    const keys = await Promise.all(
      ifnames.map((ifname) => ensureKeyPair(path.join(dir, 'keys', `${ifname}.key`))),
    );
    specs = state.nodes.map((node, index) => {
      const other = 1 - index;
      return {
        netns: node.namespace,
        name: ifnames[index]!,
        privateKeyFile: keys[index]!.file,
        address: `100.96.0.${index + 1}/16`,
        listenPort: 51820,
        stateDir: path.join(dir, 'mesh'),
        peers: [
          {
            publicKey: keys[other]!.publicKey,
            endpoint: `${state.nodes[other]!.address}:51820`,
            allowedIps: [`100.96.0.${other + 1}/32`],
          },
        ],
      };
    });
  });

  afterAll(async () => {
    // Whatever happened above: stop the daemons, remove links, sockets and the lab.
    for (const spec of specs) await bringDownInterface(spec).catch(() => undefined);
    for (const pid of pids) if (await isProcessAlive(pid)) process.kill(pid, 'SIGKILL'); // only our own PIDs
    await labDownState(planLab(name, 2)).catch(() => undefined);
    if (previousLabDir === undefined) delete process.env.FLOTILLA_LAB_DIR;
    else process.env.FLOTILLA_LAB_DIR = previousLabDir;
    await rm(dir, { recursive: true, force: true });
  });

  it('brings both ends up, pings across the tunnel and records a handshake', async () => {
    for (const spec of specs) {
      const pid = await bringUpInterface(spec);
      // No WireGuard kernel module on this machine: the driver falls back to wireguard-go.
      expect(pid).toBeDefined();
      pids.push(pid!);
    }
    expect(new Set(pids).size).toBe(2);
    const [ns1, ns2] = [specs[0]!.netns!, specs[1]!.netns!];
    await inNs(ns1, 'ping', '-c1', '-W2', '100.96.0.2');
    await inNs(ns2, 'ping', '-c1', '-W2', '100.96.0.1');
    const status = await interfaceStatus(specs[0]!);
    expect(status.listenPort).toBe(51820);
    expect(status.peers).toHaveLength(1);
    expect(status.peers[0]).toMatchObject({
      publicKey: specs[0]!.peers[0]!.publicKey,
      endpoint: '203.0.113.12:51820',
      allowedIps: ['100.96.0.2/32'],
    });
    expect(status.peers[0]!.latestHandshake).toBeInstanceOf(Date);
    expect(status.peers[0]!.rxBytes).toBeGreaterThan(0);
    // The interface lives only in its namespace, not in the host's.
    const { stdout: hostLinks } = await run('ip', ['-o', 'link', 'show']);
    expect(hostLinks).not.toContain(ifnames[0]);
  });

  it('re-applies idempotently: same PID, stale peers removed, tunnel still up', async () => {
    const spec = specs[0]!;
    const stale = generateKeyPair().publicKey;
    await bringUpInterface({
      ...spec,
      peers: [...spec.peers, { publicKey: stale, allowedIps: ['100.96.9.9/32'] }],
    });
    expect((await interfaceStatus(spec)).peers.map((peer) => peer.publicKey)).toContain(stale);
    expect(await bringUpInterface(spec)).toBe(pids[0]);
    const peers = (await interfaceStatus(spec)).peers;
    expect(peers.map((peer) => peer.publicKey)).toEqual([spec.peers[0]!.publicKey]);
    await inNs(spec.netns!, 'ping', '-c1', '-W2', '100.96.0.2');
  });

  it('brings down: daemons dead by PID, links and sockets gone', async () => {
    for (const spec of specs) {
      await bringDownInterface(spec);
      expect(await daemonPid(spec)).toBeUndefined();
      const { stdout } = await inNs(spec.netns!, 'ip', '-o', 'link', 'show');
      expect(stdout).not.toContain(spec.name);
      await expect(stat(socketPath(spec.name))).rejects.toThrow();
    }
    for (const pid of pids) expect(await isProcessAlive(pid)).toBe(false);
    // Idempotent: a second down finds nothing to do.
    await bringDownInterface(specs[0]!);
  });
});
