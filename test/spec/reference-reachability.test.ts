// A service that refers to another's address must be allowed to connect to it: otherwise the
// address resolves and every node's firewall drops the connection, and only runtime says so.
import { describe, expect, it } from 'vitest';
import { parseStackText } from '../../src/spec/load.ts';

const stack = (allow: string) =>
  [
    'name: reach',
    'nodes:',
    '  a: { address: 203.0.113.11 }',
    '  b: { address: 203.0.113.12 }',
    'networks: { data: {}, front: {} }',
    'services:',
    '  db: { node: a, run: { command: [db] }, ports: { main: 5432 }, networks: [data] }',
    '  web:',
    '    node: b',
    '    run: { command: [web] }',
    '    networks: [front]',
    "    env: { DB: 'postgres://${db.address}/app' }",
    allow,
  ].join('\n');

describe('references and reachability', () => {
  it('reports a reference to a service the referrer may not connect to, where it is written', () => {
    const result = parseStackText(stack(''), 'reach.yml');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.diagnostics).toEqual([
      expect.objectContaining({
        line: 12,
        message: 'in `${db.address}`: `web` refers to `db` but may not connect to it',
        hint: 'put both in one of the same `networks`, or add to firewall.allow: { from: [web], to: db }',
      }),
    ]);
  });

  it('accepts it once firewall.allow grants it', () => {
    const result = parseStackText(
      stack('firewall: { allow: [{ from: [web], to: db }] }'),
      'reach.yml',
    );
    expect(result.ok).toBe(true);
  });
});
