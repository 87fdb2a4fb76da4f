// One PM2 app → one process service (`run:`): the interpreter PM2 would pick (node for
// .js/.mjs/.cjs unless `interpreter` says otherwise), its arguments, script and args as
// the argv; cwd, env (with env_<name> over it for --env <name>), env_file; instances →
// replicas; autorestart: false → restart: never; kill_timeout → stop.timeout. PORT in
// the env becomes a named port and `PORT: ${port}`, so each replica gets its own.
import path from 'node:path';
import { escapeLiteral } from '../../spec/interpolation.ts';
import { isSecretName } from '../../spec/secret-name.ts';
import { didYouMean } from '../../spec/suggest.ts';
import { formatDuration } from '../durations.ts';
import { secretName } from '../names.ts';
import { relocatePath } from '../paths.ts';
import type { ImportReport, NoteKind, SourcePos } from '../report.ts';
import { isSecretLike, isSwitchValue } from '../secret-like.ts';
import { ShellWordsError, splitWords } from '../shell-words.ts';
import type { ServiceDraft } from '../stack-draft.ts';
import type { App, EnvValue } from './ecosystem-schema.ts';
import { INTERPRETERS, KNOWN, TRANSLATED, UNTRANSLATED } from './options.ts';

export interface AppContext {
  report: ImportReport;
  /** Where the stack file goes: relative paths are made relative to it. */
  outputDir: string;
  /** The ecosystem file's directory: PM2 resolves a relative cwd from it. */
  sourceDir: string;
  /** `--env NAME`: env_NAME goes over env. */
  envName?: string;
  /** The source position of the app's key, or the app itself for undefined. */
  at(key?: string): SourcePos;
  /** `apps[0] (api)`, for the report. */
  label: string;
}

function note(
  context: AppContext,
  kind: NoteKind,
  key: string,
  message: string,
  hint?: string,
): void {
  context.report.note(kind, context.at(key), `${context.label}.${key}`, message, hint);
}

function words(context: AppContext, key: string, value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  try {
    return splitWords(value).words;
  } catch (error) {
    if (!(error instanceof ShellWordsError)) throw error;
    note(context, 'untranslated', key, error.message, 'write the arguments as a list');
    return [];
  }
}

function command(app: App, context: AppContext): string[] {
  const extension = path.extname(app.script).toLowerCase();
  const interpreter = app.interpreter ?? INTERPRETERS[extension];
  const args = words(context, 'args', app.args);
  if (interpreter === undefined || interpreter === 'none') return [app.script, ...args];
  const interpreterArgs = [
    ...words(context, 'interpreter_args', app.interpreter_args),
    ...words(context, 'node_args', app.node_args),
  ];
  // With an interpreter, `./server.js` and `server.js` are the same file.
  const script = app.script.startsWith('./') ? app.script.slice(2) : app.script;
  return [interpreter, ...interpreterArgs, script, ...args];
}

function replicas(app: App, context: AppContext): number | undefined {
  const instances = app.instances;
  if (instances === undefined) return undefined;
  const count = typeof instances === 'number' ? instances : Number(instances);
  if (Number.isInteger(count) && count >= 1) {
    if (count > 100)
      note(
        context,
        'changed',
        'instances',
        `${count} instances: Flotilla runs at most 100 replicas`,
      );
    return Math.min(count, 100);
  }
  note(
    context,
    'untranslated',
    'instances',
    `instances: ${instances} depends on the CPU count of the machine PM2 runs on`,
    "set replicas to a number: e.g. the node's CPU count (nproc)",
  );
  return undefined;
}

/** The value written into env for one variable, or undefined to leave it out. */
function envValue(
  context: AppContext,
  key: string,
  name: string,
  value: EnvValue,
): string | number | boolean | undefined {
  if (value === null) return undefined;
  if (typeof value === 'object' && '$function' in value) {
    note(
      context,
      'untranslated',
      `${key}.${name}`,
      'a function is not a value',
      'write the value itself',
    );
    return undefined;
  }
  const secret = isSecretLike(name) && isSecretName(secretName(name));
  if (typeof value === 'object') {
    if (secret) {
      context.report.needSecret(
        secretName(name),
        `flotilla secrets set ${secretName(name)} (the ecosystem file read it from PM2's environment)`,
      );
      note(
        context,
        'changed',
        `${key}.${name}`,
        `the file reads ${name} from the environment PM2 runs in: written as \${secret:${secretName(name)}}`,
      );
      return `\${secret:${secretName(name)}}`;
    }
    note(
      context,
      'changed',
      `${key}.${name}`,
      `the file reads ${name} from the environment PM2 runs in, which an import does not have: left out`,
      `set it under env if the service needs it`,
    );
    return undefined;
  }
  if (secret && value !== '' && !isSwitchValue(value)) {
    context.report.needSecret(
      secretName(name),
      `flotilla secrets set ${secretName(name)} (its value is in the ecosystem file)`,
    );
    note(
      context,
      'changed',
      `${key}.${name}`,
      `the value looks like a secret: written as \${secret:${secretName(name)}}, not copied into the stack file`,
    );
    return `\${secret:${secretName(name)}}`;
  }
  return typeof value === 'string' ? escapeLiteral(value) : value;
}

function mapEnv(
  app: App,
  context: AppContext,
  draft: ServiceDraft,
  envs: Record<string, Record<string, EnvValue>>,
): void {
  const layers: [string, Record<string, EnvValue>][] = [['env', app.env ?? {}]];
  if (context.envName !== undefined && envs[context.envName])
    layers.push([`env_${context.envName}`, envs[context.envName]!]);
  const merged = new Map<string, { key: string; value: EnvValue }>();
  for (const [key, layer] of layers)
    for (const [name, value] of Object.entries(layer)) merged.set(name, { key, value });
  for (const [name, { key, value }] of merged) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      note(
        context,
        'untranslated',
        `${key}.${name}`,
        `\`${name}\` is not a variable name Flotilla accepts`,
        'names are letters, digits and underscores, not starting with a digit',
      );
      continue;
    }
    const port = name === 'PORT' ? Number(value) : NaN;
    if (Number.isInteger(port) && port >= 1 && port <= 65535) {
      draft.setIn('ports', 'http', port, context.at(key));
      draft.setIn('env', 'PORT', '${port}', context.at(key));
      continue;
    }
    const written = envValue(context, key, name, value);
    if (written !== undefined) draft.setIn('env', name, written, context.at(key));
  }
}

export function mapApp(app: App, context: AppContext, draft: ServiceDraft): void {
  const run: Record<string, unknown> = { command: command(app, context).map(escapeLiteral) };
  const cwd = app.cwd ?? '.';
  run.cwd = relocatePath(cwd, context.sourceDir, context.outputDir);
  if (app.env_file !== undefined)
    run.env_files = [app.env_file.startsWith('./') ? app.env_file.slice(2) : app.env_file];
  const user = app.user ?? (app.uid === undefined ? undefined : String(app.uid));
  if (user !== undefined) run.user = user;
  draft.set('run', run, context.at('script'));
  const envs: Record<string, Record<string, EnvValue>> = {};
  for (const [key, value] of Object.entries(app))
    if (key.startsWith('env_') && key !== 'env_file' && value !== null && typeof value === 'object')
      envs[key.slice(4)] = value as Record<string, EnvValue>;
  mapEnv(app, context, draft, envs);
  const count = replicas(app, context);
  if (count !== undefined && count > 1) {
    draft.set('replicas', count, context.at('instances'));
    if ((draft.fields.ports as Record<string, number> | undefined)?.http !== undefined)
      note(
        context,
        'changed',
        'instances',
        `PM2's cluster mode shares one port between instances; Flotilla gives each replica on a node its own (PORT is ${'${port}'}: the port, then +1, +2, …) and the gateway balances between them`,
      );
  }
  if (app.autorestart === false) draft.set('restart', 'never', context.at('autorestart'));
  else if ([app.stop_exit_codes ?? []].flat().includes(0)) {
    const others = [app.stop_exit_codes ?? []].flat().filter((code) => code !== 0);
    draft.set('restart', 'on-failure', context.at('stop_exit_codes'));
    note(
      context,
      others.length === 0 ? 'changed' : 'untranslated',
      'stop_exit_codes',
      `an exit with code 0 is not restarted: written as restart: on-failure${others.length === 0 ? '' : `, which restarts on ${others.join(', ')} too`}`,
    );
  }
  if (app.kill_timeout !== undefined && app.kill_timeout > 0)
    draft.set('stop', { timeout: formatDuration(app.kill_timeout) }, context.at('kill_timeout'));
  for (const name of Object.keys(envs))
    if (name !== context.envName)
      note(
        context,
        'untranslated',
        `env_${name}`,
        `env_${name} is used by \`pm2 start --env ${name}\` only`,
        `pass --env ${name} to import it over env`,
      );
  listUntranslated(app, context);
}

function listUntranslated(app: App, context: AppContext): void {
  for (const key of Object.keys(app)) {
    if (TRANSLATED.has(key) || key.startsWith('env_')) continue;
    const hint = Object.hasOwn(UNTRANSLATED, key) ? UNTRANSLATED[key] : undefined;
    if (hint !== undefined) note(context, 'untranslated', key, `${key} has no equivalent`, hint);
    else
      note(
        context,
        'untranslated',
        key,
        `\`${key}\` is not a PM2 option`,
        didYouMean(key, KNOWN) ?? 'PM2 ignores it too',
      );
  }
}
