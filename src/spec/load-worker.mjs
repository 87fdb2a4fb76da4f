// The thread behind load-off-thread.ts: loads the stack files it is sent, one at a time.
// Plain JavaScript, so node starts it without help: a worker thread does not inherit the
// TypeScript hooks bin/flotilla.js registered (nor vitest's), so it registers tsx itself.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { loadStackFile } = await import('./load.ts');

parentPort.on('message', async ({ file, options }) => {
  try {
    parentPort.postMessage({ result: await loadStackFile(file, options) });
  } catch (error) {
    // A bug, not a user mistake: the caller rethrows it.
    parentPort.postMessage({
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
