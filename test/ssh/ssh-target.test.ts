import { describe, expect, it } from 'vitest';
import { BadSshTarget, formatSshTarget, parseSshTarget } from '../../src/ssh/ssh-target.ts';

describe('parseSshTarget', () => {
  it.each([
    ['root@203.0.113.20', { user: 'root', host: '203.0.113.20', port: 22 }],
    ['deploy@db.example.com:2222', { user: 'deploy', host: 'db.example.com', port: 2222 }],
    ['203.0.113.20', { user: 'root', host: '203.0.113.20', port: 22 }],
    ['Web-1.Example.COM', { user: 'root', host: 'web-1.example.com', port: 22 }],
    ['root@[2001:db8::1]:2222', { user: 'root', host: '2001:db8::1', port: 2222 }],
    ['root@[2001:db8::1]', { user: 'root', host: '2001:db8::1', port: 22 }],
    ['root@2001:db8::1', { user: 'root', host: '2001:db8::1', port: 22 }],
    ['[::1]:22', { user: 'root', host: '::1', port: 22 }],
    ['ops_user@host', { user: 'ops_user', host: 'host', port: 22 }],
  ])('%s', (text, target) => {
    expect(parseSshTarget(text)).toEqual(target);
  });

  it.each([
    '',
    'root@',
    '@host',
    'root@host:',
    'root@host:0',
    'root@host:65536',
    'root@host:22x',
    'root@[2001:db8::1',
    'root@[host]:22',
    'root@[2001:db8::1]2222',
    '-oProxyCommand=evil@host',
    'root@-host',
    'root@ho st',
    'root@host/path',
    'root@host:22:22',
  ])('refuses %j with a hint', (text) => {
    const failure = (() => {
      try {
        parseSshTarget(text);
      } catch (error) {
        return error;
      }
    })();
    expect(failure).toBeInstanceOf(BadSshTarget);
    expect((failure as BadSshTarget).hint).toContain('user@host');
  });

  it('formats a target so it parses back the same', () => {
    for (const text of [
      'root@203.0.113.20',
      'a@b.example:2200',
      'root@[2001:db8::1]:2222',
      'root@::1',
    ])
      expect(parseSshTarget(formatSshTarget(parseSshTarget(text)))).toEqual(parseSshTarget(text));
    expect(formatSshTarget({ user: 'root', host: '2001:db8::1', port: 2222 })).toBe(
      'root@[2001:db8::1]:2222',
    );
  });
});
