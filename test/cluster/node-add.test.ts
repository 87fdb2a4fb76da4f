// `flotilla node add` over real SSH: a real sshd in the lab node `app`'s namespace, with /opt,
// /var/lib/flotilla and /usr/local/bin of its sessions bound over temp dirs (so the server's
// install lands there and the host stays clean). The hub on `gw` packs its own compiled build,
// uploads it, runs `node setup` there, and the node joins and runs its service. A second run
// changes nothing; `node upgrade --all` from a newer Flotilla restarts the agent from the new
// release and the service keeps its PID; a server whose host key changed is refused.
import { cp, mkdtemp, readFile, readlink, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from '../helpers/lab-cluster.ts';
import { generateKey, startLabSshd, type LabSshd } from '../helpers/lab-sshd.ts';
import { isAlive } from '../../src/system/proc.ts';

const isRoot = process.getuid?.() === 0;
const STACK = `name: addlab
mesh: { provider: wireguard, cidr: 100.96.0.0/16, port: 51820 }
nodes:
  gw: { address: 203.0.113.11 }
  app: { address: 203.0.113.12 }
services:
  echo:
    node: app
    run: { command: [node, ./echo.js] }
    ports: { http: 8080 }
    env: { PORT: '\${port}' }
    health: { http: { path: / } }
`;

describe.skipIf(!isRoot)('node add over SSH to a lab node', { timeout: 300_000 }, () => {
  let cluster: LabCluster;
  let sshd: LabSshd | undefined;
  let work: string;
  /** What the server's sessions see as /opt, /var/lib/flotilla and /usr/local/bin. */
  const serverDirs = { opt: '', varlib: '', bin: '' };

  /** The operator's key: it outlives each sshd (node upgrade logs in with it again). */
  let userKey: string;
  const startSshd = async (extraMounts: Record<string, string> = {}) => {
    const server = await startLabSshd({
      namespace: cluster.labNode('app').namespace,
      address: cluster.labNode('app').address,
      mounts: {
        '/opt': serverDirs.opt,
        '/var/lib/flotilla': serverDirs.varlib,
        '/usr/local/bin': serverDirs.bin,
        ...extraMounts,
      },
    });
    await server.authorize(`${userKey}.pub`);
    return server;
  };
  const addApp = (extra: string[] = []) =>
    cluster.hubCli(
      [
        'node',
        'add',
        `root@${cluster.labNode('app').address}`,
        '-i',
        userKey,
        '--known-hosts',
        sshd!.knownHostsFile,
        ...extra,
      ],
      cluster.stackFile,
      240_000,
    );
  const agentPid = async () =>
    Number((await readFile(path.join(serverDirs.varlib, 'agent/agent/agent.pid'), 'utf8')).trim());
  const echoInstance = async () =>
    (await cluster.status()).instances.find((instance) => instance.service === 'echo');

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'flotilla-node-add-'));
    for (const dir of Object.keys(serverDirs) as (keyof typeof serverDirs)[])
      serverDirs[dir] = await mkdtemp(path.join(tmpdir(), `flotilla-node-add-${dir}-`));
    await copyFile(path.resolve('test/cluster/fixtures/echo.js'), path.join(work, 'echo.js'));
    await writeFile(path.join(work, 'flotilla.yml'), STACK);
    userKey = path.join(work, 'operator_ed25519');
    await generateKey(userKey);
    cluster = await LabCluster.start({
      stackFile: path.join(work, 'flotilla.yml'),
      nodes: ['gw', 'app'],
      joinNodes: false,
    });
    sshd = await startSshd();
  }, 120_000);

  afterAll(async () => {
    const pid = await agentPid().catch(() => undefined);
    await cluster?.close();
    // `down` ends the agent; one left by a failed test is stopped by its recorded PID.
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
    await sshd?.stop();
    for (const dir of [work, ...Object.values(serverDirs)])
      if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('sets up the server, joins it and runs its service; the token never reaches argv', async () => {
    const add = await addApp();
    expect(add.stderr).toContain('uploading release');
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/^ {2}uploaded release 0\.1\.0-[0-9a-f]{12}$/m);
    expect(add.stdout).toContain('  joined as node app\n');
    expect(add.stdout).toContain('  started the agent\n');
    expect(add.stdout).toMatch(/app \(203\.0\.113\.12, .*\) is a node of addlab, healthy/);
    expect(add.stdout).toContain('WireGuard: wireguard-go'); // no kernel module here
    expect(add.stdout).toContain('agent: detached (no systemd on the server)');

    const report = await cluster.status();
    expect(report.nodes['app']?.up).toBe(true);
    const echo = await echoInstance();
    expect(echo).toMatchObject({ node: 'app', healthy: true });
    // Its port is closed on the node's public address (the firewall came with the join).
    expect(await cluster.connects('internet', '203.0.113.12', 8080)).toBe(false);
    // The agent runs from the uploaded release, through `current`.
    const current = await readlink(path.join(serverDirs.opt, 'flotilla/current'));
    expect(current).toMatch(/^\/opt\/flotilla\/releases\/0\.1\.0-[0-9a-f]{12}$/);
    const cmdline = (await readFile(`/proc/${await agentPid()}/cmdline`, 'utf8')).split('\0');
    expect(cmdline.slice(0, 3)).toEqual([
      '/opt/flotilla/current/node',
      '/opt/flotilla/current/bin/flotilla.js',
      'agent',
    ]);
    expect(cmdline.join(' ')).not.toContain('flt1_');
    expect(await readFile(path.join(serverDirs.bin, 'flotilla'), 'utf8')).toContain(
      'exec /opt/flotilla/current/node /opt/flotilla/current/bin/flotilla.js "$@"',
    );
    // On the server (the agent's mount and network namespaces), the wrapper runs the release.
    const doctor = await cluster.exec('app', [
      'nsenter',
      '--target',
      String(await agentPid()),
      '--mount',
      '/usr/local/bin/flotilla',
      'node',
      'doctor',
      '--state-dir',
      '/var/lib/flotilla/agent',
    ]);
    expect(doctor.stdout, doctor.stderr).toMatch(
      /^ok +mesh +flo-app up, 1 peer\(s\) with a recent handshake$/m,
    );
    expect(doctor.stdout).toMatch(/^ok +clock +within \d+ s of the hub$/m);
  });

  it('a second run changes nothing: same agent, same service process', async () => {
    const agent = await agentPid();
    const echo = await echoInstance();
    const again = await addApp();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout, again.stderr).toContain(
      'nothing to change: app (203.0.113.12) was set up and is healthy',
    );
    expect(again.stderr).not.toContain('uploading');
    expect(await agentPid()).toBe(agent);
    expect((await echoInstance())?.pid).toBe(echo?.pid);
  });

  it('a re-run repairs a node: a dead agent started again, a deleted wrapper rewritten', async () => {
    const echo = await echoInstance();
    const agent = await agentPid();
    process.kill(agent, 'SIGKILL');
    await rm(path.join(serverDirs.bin, 'flotilla'));
    const repair = await addApp();
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stdout).toContain('  wrote /usr/local/bin/flotilla\n');
    expect(repair.stdout).toContain('  started the agent\n');
    expect(repair.stdout).not.toContain('joined');
    expect(await agentPid()).not.toBe(agent);
    // The new agent adopted the service the killed one left running.
    expect(await echoInstance()).toMatchObject({ healthy: true, pid: echo?.pid });
  });

  it('node upgrade --all puts a newer Flotilla on the node; the service is adopted, not restarted', async () => {
    // A newer Flotilla: this build under another version, as a separate install.
    const newer = path.join(work, 'newer');
    for (const part of ['bin', 'dist', 'scripts'])
      await cp(path.resolve(part), path.join(newer, part), { recursive: true });
    const manifest = JSON.parse(await readFile(path.resolve('package.json'), 'utf8'));
    await writeFile(
      path.join(newer, 'package.json'),
      JSON.stringify({ ...manifest, version: '0.2.0-test' }),
    );
    const agent = await agentPid();
    const echo = await echoInstance();
    const upgrade = await cluster.exec(
      'gw',
      [
        'env',
        `FLOTILLA_STATE_DIR=${cluster.stateDir('gw')}`,
        process.execPath,
        path.join(newer, 'bin/flotilla.js'),
        'node',
        'upgrade',
        '--all',
        '-f',
        cluster.stackFile,
      ],
      240_000,
    );
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(upgrade.stdout).toMatch(
      /app: uploaded release 0\.2\.0-test-[0-9a-f]{12}; release 0\.1\.0-[0-9a-f]{12} → 0\.2\.0-test-[0-9a-f]{12}; restarted the agent; healthy/,
    );
    expect(await readlink(path.join(serverDirs.opt, 'flotilla/current'))).toMatch(
      /releases\/0\.2\.0-test-/,
    );
    expect(await agentPid()).not.toBe(agent);
    const after = await echoInstance();
    expect(after).toMatchObject({ healthy: true, pid: echo?.pid, restarts: echo?.restarts });
  });

  it('refuses to upgrade a server whose host key changed, and changes nothing there', async () => {
    const before = await readlink(path.join(serverDirs.opt, 'flotilla/current'));
    await sshd!.stop();
    sshd = await startSshd(); // same address, a new host key: a man in the middle
    const upgrade = await cluster.hubCli(['node', 'upgrade', 'app'], cluster.stackFile, 60_000);
    expect(upgrade.code).toBe(1);
    expect(upgrade.stderr).toMatch(/host key/i);
    expect(await readlink(path.join(serverDirs.opt, 'flotilla/current'))).toBe(before);
  });

  it('a package missing on a server that cannot reach its mirrors: a clear error, nothing changed', async () => {
    const before = await readlink(path.join(serverDirs.opt, 'flotilla/current'));
    // PostgreSQL "not installed" for the server's sessions: its server binary not executable,
    // its dpkg record gone and no cached .deb, so apt must download it; and no mirror answers
    // (a resolver that refuses at once, rather than one whose lookups time out for minutes).
    const dpkgStatus = path.join(work, 'dpkg-status');
    const status = await readFile('/var/lib/dpkg/status', 'utf8');
    await writeFile(
      dpkgStatus,
      status
        .split('\n\n')
        .filter((stanza) => !/^Package: postgresql$/m.test(stanza))
        .join('\n\n'),
    );
    const archives = await mkdtemp(path.join(work, 'archives-'));
    const notExecutable = path.join(work, 'not-executable');
    await writeFile(notExecutable, '', { mode: 0o644 });
    const resolvConf = path.join(work, 'resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.1\n');
    await sshd!.stop();
    sshd = await startSshd({
      '/usr/lib/postgresql/15/bin/postgres': notExecutable,
      '/var/lib/dpkg/status': dpkgStatus,
      '/var/cache/apt/archives': archives,
      '/etc/resolv.conf': resolvConf,
    });
    const add = await addApp();
    expect(add.code, add.stdout).toBe(1);
    expect(add.stderr).toContain(
      "flotilla node add: installing postgresql on 203.0.113.12 failed: Temporary failure resolving 'deb.debian.org' (fetching ",
    );
    expect(add.stderr).toContain(
      'hint: the server must reach its Debian mirrors (`apt-get update` there); or install them yourself (apt-get install postgresql), then run this again',
    );
    expect(add.stdout).toBe('');
    expect(await readlink(path.join(serverDirs.opt, 'flotilla/current'))).toBe(before);
  });
});
