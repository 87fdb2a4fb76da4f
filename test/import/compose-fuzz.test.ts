// "It never crashes": Compose files with every service key holding values of every kind
// (strings with `$`, numbers, lists, mappings of Compose's own sub-keys, nulls) either
// import, with notes, or fail with an ImportError; nothing else may escape.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { importCompose } from '../../src/import/compose/import-compose.ts';
import {
  TRANSLATED_SERVICE_KEYS,
  UNTRANSLATED_SERVICE_KEYS,
} from '../../src/import/compose/keys.ts';
import { ImportError, ImportProblems } from '../../src/import/errors.ts';

const SUB_KEYS = [
  'target',
  'published',
  'source',
  'type',
  'read_only',
  'condition',
  'test',
  'interval',
  'retries',
  'replicas',
  'resources',
  'limits',
  'memory',
  'cpus',
  'restart_policy',
  'internal',
  'aliases',
  'path',
  'required',
  'service',
  'file',
  'disable',
  'protocol',
  'host_ip',
  'name',
];

const scalar = fc.oneof(
  fc.constantFrom(
    '',
    '80',
    '8080:80',
    'a:b:c:d',
    '${X',
    '$',
    '${A:-b}',
    '$$',
    'CMD',
    'CMD-SHELL',
    'NONE',
    'db',
    '/x',
    './y:/z:ro',
    '1m',
    'on-failure:3',
    'TERM',
  ),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -5, max: 70000 }),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);

const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...SUB_KEYS, 'x-extra', 'other'), tie('node'), { maxKeys: 4 }),
  ),
})).node;

const serviceKeys = [
  ...TRANSLATED_SERVICE_KEYS.filter((key) => key !== 'extends'),
  ...Object.keys(UNTRANSLATED_SERVICE_KEYS),
  'typo_key',
];

const composeFile = fc.record({
  services: fc.dictionary(
    fc.constantFrom('web', 'db', 'Worker_1', 'x'),
    fc.dictionary(fc.constantFrom(...serviceKeys), value, { maxKeys: 8 }),
    {
      minKeys: 1,
      maxKeys: 3,
    },
  ),
  networks: fc.option(
    fc.dictionary(fc.constantFrom('front', 'back', 'default'), value, { maxKeys: 2 }),
    { nil: undefined },
  ),
  secrets: fc.option(fc.dictionary(fc.constantFrom('s1', 'db-pass'), value, { maxKeys: 2 }), {
    nil: undefined,
  }),
  volumes: fc.option(fc.dictionary(fc.constantFrom('data', 'logs'), value, { maxKeys: 2 }), {
    nil: undefined,
  }),
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'flotilla-import-fuzz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('import compose on arbitrary values', () => {
  it('imports or fails with an ImportError, never anything else', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(composeFile, async (compose) => {
        const file = path.join(dir, `compose-${run++}.yml`);
        await writeFile(file, stringify(compose));
        try {
          await importCompose({ file, output: path.join(dir, 'flotilla.yml'), environment: {} });
        } catch (error) {
          if (!(error instanceof ImportError || error instanceof ImportProblems)) throw error;
        }
      }),
      { numRuns: 300, seed: 20_261_130 },
    );
    expect(run).toBe(300);
  });
});
