// The loader thread's body (load-off-thread.ts): loads the stack files it is sent, one at a
// time. Started through load-worker.mjs when running from source; the compiled build bundles
// this file as its load-worker.mjs (scripts/build.js).
import { parentPort } from 'node:worker_threads';
import { loadStackFile, type LoadOptions } from './load.ts';

interface LoadRequest {
  file: string;
  options: LoadOptions;
}

parentPort?.on('message', async ({ file, options }: LoadRequest) => {
  try {
    parentPort?.postMessage({ result: await loadStackFile(file, options) });
  } catch (error) {
    // A bug, not a user mistake: the caller rethrows it.
    parentPort?.postMessage({
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});
