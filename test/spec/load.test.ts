import { describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/spec/load.ts';
import type { Diagnostic } from '../../src/spec/diagnostic.ts';

function problems(text: string): Diagnostic[] {
  const result = parseStackText(text, 'flotilla.yml');
  if (result.ok) throw new Error('expected the stack to be rejected');
  return result.diagnostics;
}

/** The diagnostic whose message contains `fragment`, with its position. */
function find(diagnostics: Diagnostic[], fragment: string): Diagnostic {
  const found = diagnostics.find((diagnostic) => diagnostic.message.includes(fragment));
  if (!found)
    throw new Error(
      `no diagnostic mentions "${fragment}":\n${diagnostics.map((d) => d.message).join('\n')}`,
    );
  return found;
}

const base = `name: demo
nodes:
  storage: { address: 203.0.113.10, labels: [storage] }
  compute: { address: 203.0.113.11, gateway: true }
`;

describe('loading a valid stack', () => {
  it('applies defaults and keeps declared values', () => {
    const result = parseStackText(
      `${base}services:
  api:
    node: compute
    run: { command: [node, server.js] }
    ports: { http: 3000 }
`,
      'flotilla.yml',
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const api = result.stack.services.api!;
    expect(api.replicas).toBe(1);
    expect(api.restart).toBe('always');
    expect(api.stop).toEqual({ signal: 'SIGTERM', timeout: '10s' });
    expect(result.stack.mesh).toEqual({
      provider: 'wireguard',
      cidr: '100.96.0.0/16',
      port: 51820,
    });
    expect(result.stack.nodes.storage!.ssh).toEqual({ user: 'root', port: 22 });
  });

  it('gives a stack without nodes one local gateway node', () => {
    const result = parseStackText('name: solo\nservices: {}\n', 'flotilla.yml');
    expect(result.ok && result.stack.nodes).toEqual({
      local: expect.objectContaining({ address: '127.0.0.1', gateway: true }),
    });
  });
});

describe('every problem at once, each at its line and column', () => {
  it('reports YAML syntax errors with their position', () => {
    const [problem] = problems('name: demo\nservices:\n  api: { run: [\n');
    expect(problem!.message).toMatch(/^YAML:/);
    expect(problem!.line).toBeGreaterThanOrEqual(3);
  });

  it('reports a duplicate key as a YAML error', () => {
    const diagnostics = problems('name: a\nname: b\n');
    expect(find(diagnostics, 'unique').line).toBe(2);
  });

  it('rejects a document that is not a mapping', () => {
    expect(problems('- just\n- a list\n')[0]!.message).toContain('must be a YAML mapping');
  });

  it('points at an unknown key and suggests the known one', () => {
    const diagnostics = problems(`${base}services:
  api:
    node: compute
    run: { command: [node, s.js] }
    depend_on: [db]
`);
    const problem = find(diagnostics, 'unknown key `depend_on`');
    expect([problem.line, problem.col]).toEqual([9, 5]);
    expect(problem.hint).toBe('did you mean `depends_on`?');
  });

  it('reports wrong types with what was found', () => {
    const problem = find(
      problems(`${base}services:
  api:
    node: compute
    replicas: two
    run: { command: [node, s.js] }
`),
      'replicas',
    );
    expect(problem.message).toContain('expected a number, found the string "two"');
    expect([problem.line, problem.col]).toEqual([8, 15]);
  });

  it('reports a missing required key at the mapping that lacks it', () => {
    const problem = find(problems('services: {}\n'), 'missing required key `name`');
    expect(problem.line).toBe(1);
  });

  it('reports schema and cross-reference problems in one run', () => {
    const diagnostics = problems(`${base}services:
  api:
    node: compute
    replicas: 0
    run: { command: [node, s.js] }
    depends_on: [postgress]
  postgres:
    node: storage
    run: { command: [postgres] }
`);
    expect(find(diagnostics, 'replicas').line).toBe(8);
    const unknown = find(diagnostics, 'unknown service `postgress`');
    expect([unknown.line, unknown.col]).toEqual([10, 18]);
    expect(unknown.hint).toBe('did you mean `postgres`?');
  });

  it('names unknown services, ports and nodes in depends_on, routes and interpolations', () => {
    const diagnostics = problems(`${base}services:
  db:
    node: storag
    run: { command: [postgres] }
    ports: { main: 5432 }
  api:
    node: compute
    run: { command: [node, s.js] }
    ports: { http: 3000 }
    depends_on: [cache]
    env:
      DB: "\${db.port.mian}"
      CACHE: "\${cache.host}"
    routes: [{ host: api.example.com, port: web }]
`);
    expect(find(diagnostics, 'unknown node `storag`').hint).toBe('did you mean `storage`?');
    expect(find(diagnostics, 'unknown service `cache`').line).toBe(14);
    const port = find(diagnostics, 'in `${db.port.mian}`: unknown port `mian`');
    expect([port.line, port.hint]).toEqual([16, 'did you mean `main`?']);
    expect(find(diagnostics, 'in `${cache.host}`').line).toBe(17);
    expect(find(diagnostics, 'unknown port `web`').line).toBe(18);
  });

  it('prints a dependency cycle', () => {
    const problem = find(
      problems(`${base}services:
  a: { node: compute, run: { command: [a] }, depends_on: [b] }
  b: { node: compute, run: { command: [b] }, depends_on: [c] }
  c: { node: compute, run: { command: [c] }, depends_on: [a] }
`),
      'dependency cycle',
    );
    expect(problem.message).toBe('dependency cycle: a → b → c → a');
    expect(problem.line).toBe(6);
  });

  it('refuses two services claiming one port on one node, including replica offsets', () => {
    const diagnostics = problems(`${base}services:
  api:
    node: compute
    replicas: 2
    run: { command: [node, s.js] }
    ports: { http: 3000 }
  admin:
    node: compute
    run: { command: [node, a.js] }
    ports: { http: 3001 }
  other:
    node: storage
    run: { command: [node, a.js] }
    ports: { http: 3000 }
`);
    const problem = find(diagnostics, 'port 3001');
    expect(problem.message).toContain('`api`');
    expect(problem.message).toContain('replica 2');
    expect(problem.line).toBe(14);
    expect(diagnostics).toHaveLength(1); // the same port on another node is fine
  });

  it("refuses a replica's port that another of its service's ports holds", () => {
    const diagnostics = problems(`${base}services:
  api:
    node: compute
    replicas: 2
    run: { command: [node, s.js] }
    ports: { http: 3000, metrics: 3001 }
`);
    const problem = find(diagnostics, 'port 3001');
    expect(problem.message).toContain('`api` (metrics) and `api` (http, replica 2: 3000+1)');
    expect(problem.hint).toContain("space api's ports at least 2 apart");
    expect(diagnostics).toHaveLength(1);
  });

  it("refuses a service port that is the node's SSH port, or the hub's bus or join port", () => {
    const diagnostics = problems(`${base}services:
  bus:
    node: compute
    run: { command: [nats-server] }
    ports: { main: 4222 }
  shell:
    node: storage
    run: { command: [sshd] }
    ports: { main: 22 }
  fine:
    node: storage
    run: { command: [x] }
    ports: { main: 4280 }
`);
    // compute is the first gateway: the hub of this two-node stack.
    expect(find(diagnostics, 'port 4222').message).toContain("the hub's bus (nats)");
    expect(find(diagnostics, 'port 4222').hint).toBe('pick another port for `bus`');
    expect(find(diagnostics, 'port 22').message).toContain("the node's SSH server");
    expect(diagnostics).toHaveLength(2); // 4280 on a node that is not the hub is fine
  });

  it("refuses a service port that is the gateway's", () => {
    const problem = find(
      problems(`${base}services:
  web: { node: compute, run: { command: [w] }, ports: { http: 443 } }
`),
      'port 443',
    );
    expect(problem.message).toContain('the gateway');
  });

  it('refuses two routes claiming one host and path', () => {
    const problem = find(
      problems(`${base}services:
  a: { node: compute, run: { command: [a] }, ports: { http: 3000 }, routes: [{ host: x.example.com, path: /api }] }
  b: { node: compute, run: { command: [b] }, ports: { http: 3001 }, routes: [{ host: x.example.com, path: /api/ }] }
`),
      'already claimed',
    );
    expect(problem.message).toBe('route x.example.com/api is already claimed by service `a`');
    expect(problem.line).toBe(7);
  });

  it('explains bad cron, CIDR and duration values', () => {
    const diagnostics = problems(`${base}services:
  db:
    node: storage
    run: { command: [postgres] }
    ports: { main: 5432 }
    health: { tcp: {}, interval: 5 seconds }
    backup: { kind: postgres, schedule: "0 25 * * *", to: s3 }
firewall:
  allow: [{ from: [10.1.2.3/8], to: db }]
backups:
  targets: { s3: { repository: "s3:https://s3.example.com/b", password: "\${secret:RESTIC}" } }
`);
    expect(find(diagnostics, 'not a duration').line).toBe(10);
    expect(find(diagnostics, 'bad cron expression "0 25 * * *"').line).toBe(11);
    expect(find(diagnostics, 'bad CIDR "10.1.2.3/8"').message).toContain(
      'the network is 10.0.0.0/8',
    );
  });

  it('rejects an unknown secret syntax with the right spelling as a hint', () => {
    const problem = find(
      problems(`${base}services:
  api: { node: compute, run: { command: [a] }, env: { PW: "\${secrets:PW}", X: "\${API_KEY}" } }
`),
      '`${secrets:PW}`',
    );
    expect(problem.hint).toBe('did you mean `${secret:PW}`?');
  });

  it('asks for a gateway when services have routes but no node is one', () => {
    const diagnostics = problems(`name: demo
nodes: { a: { address: 203.0.113.1 } }
services:
  web: { run: { command: [w] }, ports: { http: 3000 }, routes: [{ host: www.example.com }] }
`);
    expect(find(diagnostics, 'no node is a gateway').hint).toContain('gateway: true');
  });

  it('refuses a CIDR allowlist into a service that lives only in internal networks', () => {
    const diagnostics = problems(`${base}networks: { backend: { internal: true } }
services:
  redis: { node: storage, run: { command: [redis-server] }, ports: { main: 6379 }, networks: [backend] }
firewall:
  allow: [{ from: [198.51.100.0/24], to: redis }]
`);
    expect(find(diagnostics, 'only in internal networks').line).toBe(9);
  });

  it('refuses CORS settings browsers would reject and duplicate basic-auth users', () => {
    const hash = '$2a$14$' + 'a'.repeat(53);
    const diagnostics = problems(`${base}services:
  web:
    node: compute
    run: { command: [w] }
    ports: { http: 3000 }
    routes:
      - { host: a.example.com, cors: { origins: ['*'], credentials: true } }
      - { host: b.example.com, cors: { origins: ['https://*.example.com'] } }
      - host: c.example.com
        basic_auth: { users: [{ username: u, password_hash: '${hash}' }, { username: u, password_hash: '${hash}' }] }
`);
    expect(find(diagnostics, 'credentials with origin "*"').line).toBe(11);
    expect(find(diagnostics, 'an origin is').line).toBe(12);
    expect(find(diagnostics, 'username may appear once').line).toBe(14);
  });
});
