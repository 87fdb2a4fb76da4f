// Reads a PM2 ecosystem file: JSON is parsed; JavaScript (.js, .cjs, .mjs) has to run,
// so it runs in a child Node process that may only read files (no writes, no processes,
// no workers), with an empty environment and a time limit: an ecosystem file is code,
// and importing it must not let it act. A file that throws, hangs or exports nothing
// usable is a clear error.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImportError } from '../errors.ts';

const RUNNER = fileURLToPath(new URL('./ecosystem-runner.mjs', import.meta.url));
const EVALUATION_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

interface LoadedEcosystem {
  value: unknown;
  /** The JSON text, when the file is JSON: positions of keys are found in it. */
  json?: string;
}

export async function loadEcosystem(
  file: string,
  timeoutMs = EVALUATION_TIMEOUT_MS,
): Promise<LoadedEcosystem> {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.json') return parseJson(file);
  if (!['.js', '.cjs', '.mjs'].includes(extension))
    throw new ImportError(
      `${file}: an ecosystem file ends in .js, .cjs, .mjs or .json`,
      'name the file PM2 starts with `pm2 start <file>`',
    );
  try {
    await readFile(file);
  } catch (error) {
    throw new ImportError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`);
  }
  return { value: await evaluate(file, timeoutMs) };
}

async function parseJson(file: string): Promise<LoadedEcosystem> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ImportError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code})`);
  }
  try {
    return { value: JSON.parse(text), json: text };
  } catch (error) {
    throw new ImportError(
      `${file} is not valid JSON: ${(error as Error).message}`,
      'check the file with `node -e "JSON.parse(require(\'fs\').readFileSync(process.argv[1]))" FILE`',
    );
  }
}

/** The permission model's flag: `--permission` since Node 22.13 and 23.5, experimental before. */
function permissionFlag(): string {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const stable = major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13);
  return stable ? '--permission' : '--experimental-permission';
}

function evaluate(file: string, timeoutMs: number): Promise<unknown> {
  const absolute = path.resolve(file);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [permissionFlag(), '--allow-fs-read=*', '--no-warnings', RUNNER, absolute],
      { cwd: path.dirname(absolute), env: {}, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let failure: ImportError | undefined;
    const stop = (error: ImportError) => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () =>
        stop(
          new ImportError(
            `${file} did not finish loading within ${timeoutMs / 1000} s`,
            'an ecosystem file should only export its apps: check it for loops or waits',
          ),
        ),
      timeoutMs,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += chunk.toString();
    });
    const results = child.stdio[3] as NodeJS.ReadableStream;
    results.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT_BYTES)
        stop(
          new ImportError(
            `${file} exports more than 16 MiB`,
            'an ecosystem file exports a few apps',
          ),
        );
      else chunks.push(chunk);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new ImportError(`cannot start node to load ${file}: ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      if (code !== 0) return reject(threw(file, stderr));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(
          new ImportError(
            `${file} exported nothing that can be read`,
            'export the apps: module.exports = { apps: [...] }',
          ),
        );
      }
    });
  });
}

/** The error the file threw, as its first lines of stderr say it. */
function threw(file: string, stderr: string): ImportError {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  const message =
    lines.find((line) => /^\w*(Error|Exception)\b|^Error \[/.test(line)) ??
    lines.at(-1) ??
    'it exited with an error';
  const denied = /ERR_ACCESS_DENIED/.test(stderr);
  return new ImportError(
    `${file} threw while loading: ${message.trim()}`,
    denied
      ? 'the file tried to write a file or start a process: an ecosystem file evaluated for import may only read files'
      : /Cannot find module|ERR_MODULE_NOT_FOUND/.test(stderr)
        ? 'run `npm install` where the file is, so what it requires can be found'
        : /module is not defined in ES module scope/.test(stderr)
          ? 'the nearest package.json says "type": "module": rename the file to ecosystem.config.cjs, as PM2 needs too'
          : 'fix the file so that `node -e "require(\'./ecosystem.config.js\')"` runs',
  );
}
