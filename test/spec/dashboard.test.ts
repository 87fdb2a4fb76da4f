// The stack file's `dashboard:` block: the hub node's gateway serves the dashboard's host
// (with the optional basic auth and address blocks in front), the host and the listener's
// port are the dashboard's own, and a hub without a gateway is refused at its line.
import { describe, expect, it } from 'vitest';
import { planStack } from '../../src/plan/plan.ts';
import { DASHBOARD_SERVICE } from '../../src/plan/routes.ts';
import { findingLines, loadStackText } from '../helpers/stack-text.ts';

const HASH = '$2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG';
const NODE = 'nodes:\n  local: { address: 127.0.0.1, gateway: true }\n';
const SERVICE =
  'services:\n  api:\n    run: { command: [node, server.js] }\n    ports: { http: 3000 }\n';

describe('dashboard in the stack file', () => {
  it("routes the dashboard's host to the hub's loopback listener, behind its allowlist and basic auth", () => {
    const result = loadStackText(
      `${NODE}${SERVICE}    routes: [{ host: api.localhost }]
dashboard:
  host: ops.localhost
  allow: [10.0.0.0/8, 127.0.0.1/32]
  basic_auth: { users: [{ username: ops, password_hash: "${HASH}" }] }
`,
    );
    expect(findingLines(result)).toEqual([]);
    if (!result.ok) return;
    expect(result.stack.dashboard!.port).toBe(4283);
    const plan = planStack(result.stack, { stackDir: '/srv', stateDir: '/var/lib/flotilla' });
    const route = plan.routes.find((entry) => entry.service === DASHBOARD_SERVICE);
    expect(route).toMatchObject({
      host: 'ops.localhost',
      builtin: true,
      allow: ['10.0.0.0/8', '127.0.0.1/32'],
      upstreams: [{ dial: '127.0.0.1:4283' }],
    });
    expect(route!.path).toBeUndefined();
    expect(route!.basic_auth!.users[0]!.username).toBe('ops');
    // HTTPS with Caddy's own certificate for an internal name, ACME for a public one.
    expect(route!.tls).toBe('internal');
  });

  it('has no dashboard route unless asked', () => {
    const result = loadStackText(`${NODE}${SERVICE}`);
    if (!result.ok) throw new Error(findingLines(result).join('\n'));
    const plan = planStack(result.stack, { stackDir: '/srv', stateDir: '/var/lib/flotilla' });
    expect(plan.routes.some((entry) => entry.service === DASHBOARD_SERVICE)).toBe(false);
  });

  it('refuses a hub that is no gateway, a service route on its host, and a taken port', () => {
    const noGateway = loadStackText(
      `nodes:\n  local: { address: 127.0.0.1 }\n${SERVICE}dashboard: { host: ops.example.com }\n`,
    );
    expect(findingLines(noGateway).join('\n')).toMatch(
      /8:the dashboard is served by the hub node's gateway, and the hub node is not a gateway \(add `gateway: true`/,
    );
    const sharedHost = loadStackText(
      `${NODE}${SERVICE}    routes: [{ host: ops.example.com, path: /x }]\ndashboard: { host: ops.example.com }\n`,
    );
    expect(findingLines(sharedHost).join('\n')).toContain(
      "8:host ops.example.com is the dashboard's (dashboard.host) (give the dashboard or this route its own host)",
    );
    const samePort = loadStackText(
      `${NODE}${SERVICE}dashboard: { host: ops.example.com, port: 3000 }\n`,
    );
    expect(findingLines(samePort).join('\n')).toContain(
      "port 3000 on node `local` is claimed by both the hub's dashboard listener (dashboard.port) and",
    );
  });

  it('refuses a bad block at its line', () => {
    const result = loadStackText(
      `${NODE}dashboard:\n  host: ops.example.com\n  allow: [10.0.0.0/33]\n  theme: dark\n`,
    );
    const text = findingLines(result).join('\n');
    expect(text).toMatch(/6:.*bad CIDR "10\.0\.0\.0\/33"/);
    expect(text).toMatch(/7:.*theme/);
  });
});
