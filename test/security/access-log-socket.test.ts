// The socket Caddy's access log reaches the gateway agent on (route metrics): only Caddy's
// user (the owner of Caddy's 0700 admin directory) and root may connect. Another local user
// tries to connect and to write a forged access line; it is refused and nothing is counted,
// while the owner's same line is (so the test can fail).
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RouteTraffic } from '../../src/agent/gateway/route-traffic.ts';
import { resolveUser } from '../../src/system/users.ts';

const run = promisify(execFile);
const FORGED = JSON.stringify({
  request: { host: 'shop.example.com', uri: '/checkout' },
  status: 500,
  duration: 0.01,
});

/** Connects to `socket` as `user` and writes one line; the child's verdict on stdout. */
async function writeAs(user: string, socket: string): Promise<string> {
  const { uid, gid } = resolveUser(user);
  const script = `const s = require('node:net').connect(process.argv[1]);
s.on('connect', () => s.end(process.argv[2] + '\\n', () => console.log('written')));
s.on('error', (e) => console.log(e.code));`;
  const { stdout } = await run(process.execPath, ['-e', script, socket, FORGED], {
    uid,
    gid,
    cwd: '/',
  });
  return stdout.trim();
}

describe.skipIf(process.getuid?.() !== 0)('the access-log socket', () => {
  let dir: string;
  let traffic: RouteTraffic;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flotilla-accesslog-'));
    // Every user may walk to the admin directory, as to a gateway's state dir: it is that
    // directory and the socket that keep others out.
    await chmod(dir, 0o755);
    const admin = path.join(dir, 'admin');
    // As the gateway lays it out: Caddy's own 0700 directory (here owned by `daemon`).
    await mkdir(admin, { mode: 0o700 });
    const caddy = resolveUser('daemon');
    await chown(admin, caddy.uid, caddy.gid);
    traffic = await RouteTraffic.listen(path.join(admin, 'access.sock'));
    traffic.serve([{ host: 'shop.example.com', url: 'https://shop.example.com/' }]);
  });

  afterAll(async () => {
    await traffic?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses another local user, who cannot forge a request into the counts', async () => {
    expect(await writeAs('nobody', traffic.socket)).toBe('EACCES');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(traffic.report()).toEqual([]);
  });

  it("takes the same line from Caddy's user", async () => {
    expect(await writeAs('daemon', traffic.socket)).toBe('written');
    for (let waited = 0; waited < 5_000 && traffic.report().length === 0; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(traffic.report()).toEqual([
      expect.objectContaining({ route: 'https://shop.example.com/', requests: { '5xx': 1 } }),
    ]);
  });
});
