// Starting the control plane in the background (`up --detach`, `hub --detach`): a detached
// `flotilla daemon|hub` process logging to a file, awaited until its API endpoint appears.
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEndpoint, type ApiEndpoint } from '../hub/api-endpoint.ts';
import type { LoadedStack } from './stack-file.ts';
import { maskSecrets, writeLine, type Output } from './output.ts';

const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));
const DAEMON_START_TIMEOUT_MS = 30_000;

export interface DetachedDaemon {
  endpoint: ApiEndpoint;
  logFile: string;
}

/** Runs `flotilla <argv>` detached; undefined (after printing its log's end) if it never answers. */
export async function startDetachedDaemon(
  loaded: LoadedStack,
  argv: string[],
  output: Output,
): Promise<DetachedDaemon | undefined> {
  mkdirSync(loaded.stateDir, { recursive: true, mode: 0o755 });
  const logFile = path.join(loaded.stateDir, 'daemon.log');
  const log = openSync(logFile, 'a', 0o600);
  const child = spawn(process.execPath, [BIN, ...argv], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, FLOTILLA_STATE_DIR: loaded.stateDir, NO_COLOR: '1' },
  });
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
  let endpoint = await readEndpoint(loaded.stateDir);
  while (!endpoint || endpoint.pid !== child.pid) {
    if (exited || Date.now() > deadline) {
      writeLine(output.err, output.color.red(`the daemon did not start; the end of ${logFile}:`));
      writeLine(
        output.err,
        maskSecrets(readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')),
      );
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    endpoint = await readEndpoint(loaded.stateDir);
  }
  return { endpoint, logFile };
}
