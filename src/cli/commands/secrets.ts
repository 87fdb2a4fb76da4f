// `flotilla secrets`: set (value from stdin or a file, never argv), list (names and
// versions, never values), rm, import (.env or Doppler JSON), rollback. A running stack
// is told at once, so only the services that use a changed secret restart.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readEndpoint } from '../../hub/api-endpoint.ts';
import { parseSecretsFile } from '../../secrets/import.ts';
import { assertSecretName, SecretError, SecretStore } from '../../secrets/store.ts';
import { HubClient } from '../hub-client.ts';
import { loadStackOrReport, type LoadedStack } from '../stack-file.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { UsageError } from '../usage.ts';
import { readStdin } from '../stdin.ts';

const USAGE = `flotilla secrets set NAME [--from-file FILE]   (the value is read from stdin)
       flotilla secrets list [--json]
       flotilla secrets rm NAME
       flotilla secrets import FILE [--format dotenv|doppler-json]
       flotilla secrets rollback NAME`;

/** Tells a running hub to deliver the new values (it rereads the store on apply). */
async function redeliver(loaded: LoadedStack, output: Output): Promise<void> {
  const endpoint = await readEndpoint(loaded.stateDir);
  if (!endpoint) return;
  try {
    await new HubClient(endpoint).post('/api/v1/apply', { file: path.resolve(loaded.file) });
    writeLine(output.out, 'the running stack now uses it (only the services that use it restart)');
  } catch (error) {
    writeLine(
      output.err,
      `saved, but the running stack was not updated: ${(error as Error).message}`,
    );
  }
}

/** Said to whoever typed a value after `secrets set NAME`: it is exposed already. */
const VALUE_ON_ARGV =
  'the value is read from stdin, never from the command line: printf %s "$VALUE" | flotilla secrets set NAME (or --from-file FILE). Nothing was stored. What you typed is in your shell history and was visible to every local user in `ps`: remove it from the history (`history -d N`, or edit ~/.bash_history) and treat the value as exposed';

type Verb = 'set' | 'list' | 'rm' | 'import' | 'rollback';

export const secretsCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    'from-file': { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: {
    verbs: {
      set: { words: ['NAME'], secretExtra: VALUE_ON_ARGV },
      list: [],
      rm: ['NAME'],
      import: ['FILE'],
      rollback: ['NAME'],
    },
  },
  async run({ values, positionals }, output: Output) {
    // main checked the verb and its words against `positionals` above.
    const [verb, argument] = positionals as [Verb, string?];
    const format = (values.format ?? 'dotenv') as string;
    if (format !== 'dotenv' && format !== 'doppler-json')
      throw new UsageError(`unknown --format ${format}`, 'dotenv (the default) or doppler-json');
    const loaded = await loadStackOrReport(values.file as string | undefined, output, {
      secrets: 'skip',
    });
    if (!loaded) return 1;
    try {
      // Checked before the store is opened (which may create it): a bad name changes nothing.
      if (verb === 'set' || verb === 'rm' || verb === 'rollback') assertSecretName(argument!);
      const entries =
        verb === 'import'
          ? parseSecretsFile(await readFile(argument!, 'utf8'), argument!, format)
          : undefined;
      const store = await SecretStore.open(loaded.stateDir);
      switch (verb) {
        case 'set': {
          const fromFile = values['from-file'] as string | undefined;
          if (fromFile === undefined && process.stdin.isTTY)
            writeLine(output.err, `value of ${argument} (then Ctrl-D):`);
          const value =
            fromFile === undefined ? await readStdin() : await readFile(fromFile, 'utf8');
          if (value === '')
            throw new SecretError('refusing an empty value: pipe it in, or use --from-file');
          const version = await store.set(argument!, value);
          writeLine(output.out, `${argument} set (version ${version})`);
          await redeliver(loaded, output);
          return 0;
        }
        case 'list': {
          const secrets = await store.list();
          if (values.json) {
            writeLine(output.out, toJson(secrets));
            return 0;
          }
          const usedBy = (name: string) =>
            Object.entries(loaded.stack.services)
              .filter(([, service]) => JSON.stringify(service).includes(`\${secret:${name}}`))
              .map(([service]) => service);
          const rows = secrets.map((secret) => [
            secret.name,
            String(secret.current),
            String(secret.versions),
            usedBy(secret.name).join(', ') || '-',
          ]);
          writeLine(
            output.out,
            secrets.length === 0
              ? 'no secrets yet: flotilla secrets set NAME'
              : table([['NAME', 'VERSION', 'VERSIONS', 'USED BY'], ...rows], output.color.dim),
          );
          return 0;
        }
        case 'rm': {
          await store.remove(argument!);
          writeLine(output.out, `${argument} removed`);
          return 0;
        }
        case 'rollback': {
          const version = await store.rollback(argument!);
          writeLine(output.out, `${argument} is back at version ${version}`);
          await redeliver(loaded, output);
          return 0;
        }
        case 'import': {
          await store.setAll(entries!);
          const names = [...entries!.keys()];
          writeLine(output.out, `imported ${names.length} secrets: ${names.join(', ')}`);
          await redeliver(loaded, output);
          return 0;
        }
      }
    } catch (error) {
      if (!(error instanceof SecretError) && (error as NodeJS.ErrnoException).code === undefined)
        throw error;
      writeLine(output.err, `flotilla secrets ${verb}: ${(error as Error).message}`);
      return 1;
    }
  },
};
