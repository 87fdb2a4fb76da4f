// A Node project's package.json made into one process service: the command `npm start`
// would run (its start script, or `node server.js` as npm runs without one), the port it
// listens on (listen-port.ts) and, when the app reads PORT, `PORT: ${port}` so replicas
// each get their own. What it cannot tell (a start script that needs a shell, no port)
// becomes a comment above the service saying what to check.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ImportError } from '../import/errors.ts';
import { dnsName } from '../import/names.ts';
import { isSecretLike, isSwitchValue } from '../import/secret-like.ts';
import { ShellWordsError, splitWords } from '../import/shell-words.ts';
import { ServiceDraft } from '../import/stack-draft.ts';
import { EnvFileError, parseEnvFile } from '../system/env-file.ts';
import { shownPath } from './detect.ts';
import { portInArgs, portInSource, type PortFinding } from './listen-port.ts';

const packageJsonSchema = z.looseObject({
  name: z.string().optional(),
  main: z.string().optional(),
  scripts: z.record(z.string(), z.string()).optional(),
});

export interface PackageApp {
  service: ServiceDraft;
  /** What was found, one line each, for the command's output. */
  found: string[];
  /** Secrets the service refers to, with how to set each. */
  secrets: Map<string, string>;
}

/** Files an entry point usually is, looked at after the start script's and `main`. */
const ENTRY_CANDIDATES = ['server', 'index', 'app', 'main'].flatMap((base) =>
  ['', 'src/'].flatMap((dir) => ['.js', '.mjs', '.cjs', '.ts'].map((ext) => `${dir}${base}${ext}`)),
);
const MAX_SOURCE_BYTES = 512 * 1024;

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() ?? false;
}

async function readPackageJson(dir: string): Promise<z.infer<typeof packageJsonSchema>> {
  const file = path.join(dir, 'package.json');
  const label = shownPath(file);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ImportError(
      `${label} is not valid JSON (${(error as Error).message})`,
      'fix it (`npm pkg get name` shows whether npm can read it), or pass --dir to another directory',
    );
  }
  const parsed = packageJsonSchema.safeParse(value);
  if (!parsed.success)
    throw new ImportError(
      `${label}: ${parsed.error.issues[0]!.path.join('.')} must be a string`,
      'npm refuses this file too: fix it, then run init again',
    );
  return parsed.data;
}

interface StartCommand {
  command: string[];
  env: Record<string, string>;
  /** The script file node runs, scanned first for the port. */
  entry?: string;
  port?: PortFinding;
  comments: string[];
  said: string;
}

/** `PORT=4000 node server.js --port 4000` → env, argv and the port; npm start when a shell is needed. */
function startScript(script: string): StartCommand {
  const npmStart: StartCommand = {
    command: ['npm', 'start'],
    env: {},
    comments: [
      `Runs \`npm start\` (package.json: "${script}"); to have Flotilla signal the app`,
      'itself, write the command npm runs as an argv, e.g. [node, server.js].',
    ],
    said: `start script "${script}" (run through npm start)`,
  };
  let words: string[];
  try {
    const split = splitWords(script);
    if (split.shellSyntax.length > 0) return npmStart;
    words = split.words;
  } catch (error) {
    if (error instanceof ShellWordsError) return npmStart;
    throw error;
  }
  const env: Record<string, string> = {};
  while (words[0] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split('=');
    env[name!] = value.join('=');
  }
  const argPort = portInArgs(words, 'the start script');
  const envPort = portNumberOf(env.PORT);
  const source = 'the start script';
  if (words[0] !== 'node') {
    // npm runs the script as written: its PORT=… or --port wins over the PORT Flotilla sets.
    const port =
      argPort ?? (envPort === undefined ? undefined : { port: envPort, readsEnv: false, source });
    return port === undefined ? npmStart : { ...npmStart, port };
  }
  const started: StartCommand = {
    command: words,
    env,
    comments: [],
    said: `start script "${script}"`,
  };
  const entry = words.slice(1).find((word) => !word.startsWith('-'));
  if (entry !== undefined) started.entry = entry;
  // `PORT=4000 node …`: the app reads PORT, which Flotilla sets per instance instead.
  const port =
    argPort ?? (envPort === undefined ? undefined : { port: envPort, readsEnv: true, source });
  if (port !== undefined) started.port = port;
  return started;
}

/** A value that must not be written into the stack file: a secret's, or a URL's password. */
function holdsSecret(name: string, value: string): boolean {
  if (/:\/\/[^/\s:@]+:[^/\s@]+@/.test(value)) return true;
  return isSecretLike(name) && value !== '' && !isSwitchValue(value);
}

/** The variables of the project's `.env` (which dotenv loads at start), or undefined without one. */
async function readDotenv(dir: string): Promise<Record<string, string> | undefined> {
  const file = path.join(dir, '.env');
  if (!(await isFile(file))) return undefined;
  try {
    return { ...parseEnvFile(await readFile(file, 'utf8'), shownPath(file)) };
  } catch (error) {
    if (!(error instanceof EnvFileError)) throw error;
    throw new ImportError(error.message, 'write each line as KEY=value (# starts a comment)');
  }
}

function envPort(dotenv: Record<string, string> | undefined): PortFinding | undefined {
  const port = portNumberOf(dotenv?.PORT);
  return port === undefined ? undefined : { port, readsEnv: true, source: '.env' };
}

function portNumberOf(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,5}$/.test(text) ? Number(text) : undefined;
}

async function findPortInFiles(dir: string, files: string[]): Promise<PortFinding | undefined> {
  for (const file of [...new Set(files)]) {
    const full = path.join(dir, file);
    const info = await stat(full).catch(() => undefined);
    if (!info?.isFile() || info.size > MAX_SOURCE_BYTES) continue;
    const found = portInSource(await readFile(full, 'utf8'), file);
    if (found) return found;
  }
  return undefined;
}

/** The service a package.json describes, or undefined when it has nothing to start. */
export async function packageApp(dir: string): Promise<PackageApp | undefined> {
  const pkg = await readPackageJson(dir);
  const script = pkg.scripts?.start;
  let start: StartCommand;
  if (script !== undefined) start = startScript(script);
  else if (await isFile(path.join(dir, 'server.js')))
    // What `npm start` runs when package.json has no start script.
    start = {
      command: ['node', 'server.js'],
      env: {},
      entry: 'server.js',
      comments: [],
      said: 'server.js (what npm start runs without a start script)',
    };
  else return undefined;

  const dotenv = await readDotenv(dir);
  const port =
    start.port ??
    envPort(dotenv) ??
    (await findPortInFiles(dir, [
      ...(start.entry === undefined ? [] : [start.entry]),
      ...(pkg.main === undefined ? [] : [pkg.main]),
      ...ENTRY_CANDIDATES,
    ]));
  const service = new ServiceDraft(dnsName(pkg.name?.replace(/^@[^/]+\//, '') ?? 'app', 'app'), {
    file: 'package.json',
  });
  const command = [...start.command];
  if (port?.argIndex !== undefined && start.command[0] === 'node')
    command[port.argIndex] = '${port}';
  service.set('run', { command });
  const comments = [...start.comments];
  const found = [`package.json: ${start.said}`];
  const secrets = new Map<string, string>();
  service.setIn('env', 'NODE_ENV', 'production');
  if (dotenv !== undefined) found.push(`.env: ${Object.keys(dotenv).length} variables`);
  const how = (name: string) =>
    dotenv?.[name] === undefined
      ? `flotilla secrets set ${name}`
      : `flotilla secrets set ${name} (its value is in .env, which \`flotilla secrets import .env\` imports whole)`;
  for (const [name, value] of Object.entries({ ...dotenv, ...start.env })) {
    if (name === 'PORT') continue;
    if (holdsSecret(name, value)) {
      service.setIn('env', name, `\${secret:${name}}`);
      secrets.set(name, how(name));
    } else service.setIn('env', name, value);
  }
  if (port?.port !== undefined) {
    service.setIn('ports', 'http', port.port);
    found.push(`port ${port.port} (${port.source}${port.readsEnv ? ', read from PORT' : ''})`);
  } else {
    service.setIn('ports', 'http', 3000);
    comments.push(
      'No port found in the start script or the entry file: 3000 is a guess,',
      'write the port your app listens on.',
    );
    found.push('no port (3000 written: check it)');
  }
  if (port === undefined || port.readsEnv) service.setIn('env', 'PORT', '${port}');
  else if (port.argIndex === undefined || start.command[0] !== 'node')
    comments.push(
      `The app listens on ${port.port} whatever PORT says (${port.source}): read`,
      'process.env.PORT instead so that replicas can each have their own port.',
    );
  service.comments.push(...comments);
  return { service, found, secrets };
}
