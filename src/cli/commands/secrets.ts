// `flotilla secrets`: set (value from stdin or a file, never argv), list (names and
// versions, never values), rm, import (.env or Doppler JSON), rollback. A running stack
// is told at once, so only the services that use a changed secret restart.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readEndpoint } from '../../hub/api-endpoint.ts';
import { parseSecretsFile, type ImportFormat } from '../../secrets/import.ts';
import { assertSecretName, SecretError, SecretStore } from '../../secrets/store.ts';
import { HubClient } from '../hub-client.ts';
import { loadStackOrReport, type LoadedStack } from '../stack-file.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

const USAGE = `flotilla secrets set NAME [--from-file FILE]   (the value is read from stdin)
       flotilla secrets list [--json]
       flotilla secrets rm NAME
       flotilla secrets import FILE [--format dotenv|doppler-json]
       flotilla secrets rollback NAME`;

async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  // `echo value |` adds one newline that is not part of the secret.
  return text.replace(/\r?\n$/, '');
}

/** Tells a running hub to deliver the new values (it rereads the store on apply). */
async function redeliver(loaded: LoadedStack, output: Output): Promise<void> {
  const endpoint = await readEndpoint(loaded.stateDir);
  if (!endpoint) return;
  try {
    await new HubClient(endpoint).post('/v1/apply', { file: path.resolve(loaded.file) });
    writeLine(output.out, 'the running stack now uses it (only the services that use it restart)');
  } catch (error) {
    writeLine(
      output.err,
      `saved, but the running stack was not updated: ${(error as Error).message}`,
    );
  }
}

export const secretsCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    'from-file': { type: 'string' },
    format: { type: 'string' },
    json: { type: 'boolean' },
  },
  allowPositionals: true,
  async run({ values, positionals }, output: Output) {
    const [verb, argument] = positionals;
    const loaded = await loadStackOrReport(values.file as string | undefined, output, {
      checkSecrets: false,
    });
    if (!loaded) return 1;
    const store = await SecretStore.open(loaded.stateDir);
    try {
      switch (verb) {
        case 'set': {
          if (argument === undefined) break;
          assertSecretName(argument);
          const fromFile = values['from-file'] as string | undefined;
          if (fromFile === undefined && process.stdin.isTTY)
            writeLine(output.err, `value of ${argument} (then Ctrl-D):`);
          const value =
            fromFile === undefined ? await readStdin() : await readFile(fromFile, 'utf8');
          if (value === '')
            throw new SecretError('refusing an empty value: pipe it in, or use --from-file');
          const version = await store.set(argument, value);
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
          if (argument === undefined) break;
          await store.remove(argument);
          writeLine(output.out, `${argument} removed`);
          return 0;
        }
        case 'rollback': {
          if (argument === undefined) break;
          const version = await store.rollback(argument);
          writeLine(output.out, `${argument} is back at version ${version}`);
          await redeliver(loaded, output);
          return 0;
        }
        case 'import': {
          if (argument === undefined) break;
          const format = (values.format ?? 'dotenv') as string;
          if (format !== 'dotenv' && format !== 'doppler-json')
            throw new SecretError(`unknown format ${format}: dotenv or doppler-json`);
          const entries = parseSecretsFile(
            await readFile(argument, 'utf8'),
            argument,
            format as ImportFormat,
          );
          for (const [name, value] of Object.entries(entries)) await store.set(name, value);
          writeLine(
            output.out,
            `imported ${Object.keys(entries).length} secrets: ${Object.keys(entries).join(', ')}`,
          );
          await redeliver(loaded, output);
          return 0;
        }
      }
    } catch (error) {
      if (!(error instanceof SecretError) && (error as NodeJS.ErrnoException).code === undefined)
        throw error;
      writeLine(output.err, `flotilla secrets: ${(error as Error).message}`);
      return 1;
    }
    writeLine(output.err, `usage: ${USAGE}`);
    return 2;
  },
};
