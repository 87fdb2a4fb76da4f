// Which ports a gateway config takes, and who holds a port as `ss` reports it: pure parsing,
// including a process name forged to look like someone else's pid.
import { describe, expect, it } from 'vitest';
import { listenPorts, UnknownListenAddress } from '../../../src/agent/gateway/listen-ports.ts';
import { parseListeners } from '../../../src/agent/port-check.ts';
import { caddyConfig } from '../../../src/plan/caddy.ts';

describe('listenPorts', () => {
  it("takes a gateway config's http and https ports", () => {
    expect(listenPorts(caddyConfig([], { httpPort: 8080, httpsPort: 8443 }))).toEqual([8080, 8443]);
  });

  it("reads every server's listen addresses, with Caddy's defaults for the two ports", () => {
    const config = {
      apps: {
        http: {
          servers: {
            a: { listen: [':9000', 'tcp4/127.0.0.1:9001-9002', '[::1]:9003'] },
            b: { listen: ['unix//run/x.sock', 'udp/:9004'] },
          },
        },
      },
    };
    expect(listenPorts(config)).toEqual([80, 443, 9000, 9001, 9002, 9003]);
  });

  it('takes nothing without servers', () => {
    expect(listenPorts({ admin: { listen: 'unix//x' } })).toEqual([]);
    expect(listenPorts({ apps: { http: { http_port: 80, servers: {} } } })).toEqual([]);
  });

  it('refuses an address it cannot read rather than guess', () => {
    for (const address of [':{env.PORT}', 'fd/3', ':0', ':9-1', ':1-5000', 'localhost']) {
      const config = { apps: { http: { servers: { a: { listen: [address] } } } } };
      expect(() => listenPorts(config), address).toThrow(UnknownListenAddress);
    }
  });
});

describe('parseListeners', () => {
  it('reads port and holders of each listening socket', () => {
    const text = [
      'LISTEN 0      4096         0.0.0.0:2024      0.0.0.0:*    users:(("sshd",pid=100,fd=3))',
      'LISTEN 0      4096               *:8443            *:*    users:(("caddy",pid=200,fd=7),("caddy",pid=200,fd=9))',
      'LISTEN 0      511    127.0.0.53%lo:53        0.0.0.0:*',
      '',
    ].join('\n');
    expect(parseListeners(text)).toEqual([
      { address: '0.0.0.0:2024', port: 2024, pids: [100] },
      { address: '*:8443', port: 8443, pids: [200] },
      { address: '127.0.0.53%lo:53', port: 53, pids: [] },
    ]);
  });

  it('keeps the real holder when a process names itself after another pid', () => {
    // A program called `x",pid=1,fd=3` (ss prints names as they are).
    const text = 'LISTEN 0 128 *:45678 *:* users:(("x",pid=1,fd=3",pid=20890,fd=3))';
    expect(parseListeners(text)[0]?.pids).toEqual([1, 20890]);
  });
});
