// The small grammars an import reads: Compose's variables, command strings split into
// words, short port specs, Go durations, secret-looking names, and names made to fit.
import { describe, expect, it } from 'vitest';
import {
  MissingVariableError,
  parseComposeTemplate,
  resolveTemplate,
  TemplateError,
} from '../../src/import/compose/interpolate.ts';
import { parseShortPort } from '../../src/import/compose/ports.ts';
import { formatDuration, parseGoDuration } from '../../src/import/durations.ts';
import { dnsName, portName, secretName } from '../../src/import/names.ts';
import { isSecretLike, isSwitchValue } from '../../src/import/secret-like.ts';
import { ShellWordsError, splitWords } from '../../src/import/shell-words.ts';
import { parseDuration } from '../../src/spec/formats.ts';
import { isSecretName } from '../../src/spec/secret-name.ts';

describe("Compose's variables", () => {
  const variables = new Map([
    ['SET', 'value'],
    ['EMPTY', ''],
  ]);
  const resolve = (text: string) => resolveTemplate(parseComposeTemplate(text), variables);

  it.each([
    ['${SET}', 'value'],
    ['$SET/x', 'value/x'],
    ['${UNSET:-default}', 'default'],
    ['${EMPTY:-default}', 'default'],
    ['${EMPTY-default}', ''],
    ['${UNSET-default}', 'default'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET:-${SET}-x}', 'value-x'],
    ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep'],
    ['$$SET costs $$5', '$SET costs $5'],
    ['${SET:?never}', 'value'],
  ])('%s → %s', (text, expected) => {
    expect(resolve(text)).toBe(expected);
  });

  it('reports variables used without a value and without a default', () => {
    const unset: string[] = [];
    expect(
      resolveTemplate(parseComposeTemplate('a${NOPE}b$ALSO'), variables, (name) =>
        unset.push(name),
      ),
    ).toBe('ab');
    expect(unset).toEqual(['NOPE', 'ALSO']);
  });

  it('stops on a required variable without a value, with its message', () => {
    expect(() => resolve('${EMPTY:?must be set}')).toThrow(
      new MissingVariableError('EMPTY', 'must be set'),
    );
    expect(resolve('${EMPTY?unset only}')).toBe('');
    expect(() => resolve('${UNSET?unset only}')).toThrow(
      'required variable UNSET is missing a value: unset only',
    );
  });

  it.each(['${', '${UNCLOSED', '${1X}', '${X:=y}', 'a $ b', '$1', '${X:-never closed'])(
    'refuses %s',
    (text) => {
      expect(() => parseComposeTemplate(text)).toThrow(TemplateError);
    },
  );
});

describe('command strings split into words, without a shell', () => {
  it.each([
    ['node server.js --port 3000', ['node', 'server.js', '--port', '3000']],
    [`sh -c 'echo "$HOME" && ls'`, ['sh', '-c', 'echo "$HOME" && ls']],
    [`echo "a \\"quoted\\" word" 'single  spaced'`, ['echo', 'a "quoted" word', 'single  spaced']],
    ['one\\ word two', ['one word', 'two']],
    [`empty '' ""`, ['empty', '', '']],
    ['  spaced\tout\n', ['spaced', 'out']],
  ])('%s', (text, words) => {
    expect(splitWords(text).words).toEqual(words);
  });

  it('says which shell syntax reaches the program as arguments', () => {
    expect(splitWords('migrate && serve > log').shellSyntax).toEqual(['&&', '>']);
    expect(splitWords("sh -c 'a && b'").shellSyntax).toEqual([]);
  });

  it('refuses an unterminated quote', () => {
    expect(() => splitWords('echo "open')).toThrow(ShellWordsError);
  });
});

describe('short port specs', () => {
  it.each([
    ['3000', { first: 3000, last: 3000, protocol: 'tcp' }],
    ['8080:80', { first: 80, last: 80, published: '8080', protocol: 'tcp' }],
    [
      '127.0.0.1:5432:5432',
      { first: 5432, last: 5432, published: '5432', hostIp: '127.0.0.1', protocol: 'tcp' },
    ],
    ['127.0.0.1::80', { first: 80, last: 80, hostIp: '127.0.0.1', protocol: 'tcp' }],
    [
      '[::1]:6001:6001',
      { first: 6001, last: 6001, published: '6001', hostIp: '::1', protocol: 'tcp' },
    ],
    ['9090-9091:8080-8081', { first: 8080, last: 8081, published: '9090-9091', protocol: 'tcp' }],
    ['53:53/udp', { first: 53, last: 53, published: '53', protocol: 'udp' }],
  ])('%s', (text, spec) => {
    expect(parseShortPort(text)).toEqual(spec);
  });

  it.each(['http', '1:2:3:4', '80:x', '[::1:80'])('refuses %s with a reason', (text) => {
    expect(typeof parseShortPort(text)).toBe('string');
  });
});

describe('Go durations', () => {
  it.each([
    ['30s', '30s'],
    ['1m30s', '1m30s'],
    ['90s', '1m30s'],
    ['1.5s', '1500ms'],
    ['500ms', '500ms'],
    ['2h', '2h'],
    ['1h0m10s', '1h10s'],
    ['10us', '1ms'],
  ])('%s → %s, which the stack file reads back', (go, written) => {
    const ms = parseGoDuration(go)!;
    expect(formatDuration(ms)).toBe(written);
    expect(parseDuration(written)).toBeGreaterThan(0);
  });

  it.each(['', '10', '1d', 'soon', '1m30'])('refuses %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe('secret-looking names', () => {
  it.each([
    'POSTGRES_PASSWORD',
    'MYSQL_ROOT_PASSWORD',
    'SECRET_KEY_BASE',
    'NEXTAUTH_SECRET',
    'GITHUB_TOKEN',
    'STRIPE_API_KEY',
    'AWS_SECRET_ACCESS_KEY',
    'database__connection__password',
    'SMTP_PASS',
  ])('%s holds a secret', (name) => {
    expect(isSecretLike(name)).toBe(true);
  });

  it.each([
    'POSTGRES_PASSWORD_FILE',
    'POSTGRES_USER',
    'DATABASE_URL',
    'TOKEN_TTL',
    'KEY_PREFIX',
    'SORT_KEY',
    'PWD',
    'NODE_ENV',
    'PASSWORD_LENGTH',
    'MYSQL_ALLOW_EMPTY_PASSWORD',
    'MYSQL_RANDOM_ROOT_PASSWORD',
  ])('%s does not', (name) => {
    expect(isSecretLike(name)).toBe(false);
  });
});

describe('switch values', () => {
  it.each(['yes', 'no', 'TRUE', 'false', '1', '0', true, 1])(
    '%s is a switch, not a secret',
    (value) => {
      expect(isSwitchValue(value)).toBe(true);
    },
  );

  it.each(['hunter2', 'yes-really', '12'])('%s may be a secret', (value) => {
    expect(isSwitchValue(value)).toBe(false);
  });
});

describe('names made to fit', () => {
  it.each([
    ['web', 'web'],
    ['My_App.web', 'my-app-web'],
    ['1password', 'svc-1password'],
    ['__', 'svc'],
    ['a'.repeat(80), 'a'.repeat(63)],
  ])('service %s → %s', (text, name) => {
    expect(dnsName(text, 'svc')).toBe(name);
  });

  it.each([
    ['db-password', 'DB_PASSWORD'],
    ['api.token', 'API_TOKEN'],
    ['__proto__', '_PROTO__'],
    ['1st', '_1ST'],
  ])('secret %s → %s, a valid secret name', (text, name) => {
    expect(secretName(text)).toBe(name);
    expect(isSecretName(name)).toBe(true);
  });

  it('port names', () => {
    expect(portName('Admin UI')).toBe('admin-ui');
    expect(portName('8080')).toBeUndefined();
  });
});
