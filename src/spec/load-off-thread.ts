// loadStackFile on a worker thread, for the hub: `POST /api/v1/apply` loads the file a client
// names, and even under the size cap a hostile file costs yaml many seconds of CPU. On a
// worker the hub's event loop keeps serving (status, health, other nodes) meanwhile, and a
// load that runs past its time limit is stopped with the thread.
// One thread, started on first use and kept: starting one costs about a second (tsx compiles
// the loader and its imports). It never keeps the process alive while idle.
import { Worker } from 'node:worker_threads';
import { wholeFileProblem, type LoadOptions, type LoadResult } from './load.ts';

/** A 2,000-service stack loads in under a second; 30 s is not a stack file. */
export const LOAD_TIMEOUT_MS = 30_000;

type Reply = { result: LoadResult } | { error: string };

let worker: Worker | undefined;
/** Loads run one after the other: a time limit then measures one load, not a queue. */
let queue: Promise<unknown> = Promise.resolve();

/** Same result as loadStackFile(file, options), computed on the loader thread. */
export function loadStackFileOffThread(
  file: string,
  options: LoadOptions = {},
  timeoutMs = LOAD_TIMEOUT_MS,
): Promise<LoadResult> {
  const load = queue.then(() => loadOnThread(file, options, timeoutMs));
  queue = load.catch(() => undefined);
  return load;
}

/**
 * Starts the loader thread now, so that the first `apply` does not pay its start (a second
 * of CPU, while every node waits for the new desired state). It keeps nothing alive.
 */
export function warmLoaderThread(): void {
  loaderThread().unref();
}

/** Stops the loader thread (the next load starts a new one). */
export async function stopLoaderThread(): Promise<void> {
  const stopping = worker;
  worker = undefined;
  await stopping?.terminate();
}

function loaderThread(): Worker {
  if (worker) return worker;
  const created = new Worker(new URL('./load-worker.mjs', import.meta.url));
  // Between loads nobody else listens: a failure then ends this thread, never the hub.
  created
    .on('error', () => undefined)
    .on('exit', () => {
      if (worker === created) worker = undefined;
    });
  worker = created;
  return created;
}

function loadOnThread(file: string, options: LoadOptions, timeoutMs: number): Promise<LoadResult> {
  const thread = loaderThread();
  thread.ref();
  return new Promise((resolve, reject) => {
    const settle = () => {
      clearTimeout(timer);
      thread.off('message', onReply).off('error', onFailure).off('exit', onExit);
      thread.unref();
    };
    const onReply = (reply: Reply) => {
      settle();
      if ('error' in reply) reject(new Error(`loading ${file} failed: ${reply.error}`));
      else resolve(reply.result);
    };
    const onFailure = (error: Error) => {
      settle();
      reject(error);
    };
    const onExit = (code: number) =>
      onFailure(new Error(`the stack file loader's thread exited with code ${code}`));
    const timer = setTimeout(() => {
      settle();
      void stopLoaderThread();
      resolve(timedOut(file, timeoutMs));
    }, timeoutMs);
    thread.on('message', onReply).on('error', onFailure).on('exit', onExit);
    thread.postMessage({ file, options });
  });
}

function timedOut(file: string, timeoutMs: number): LoadResult {
  return wholeFileProblem(
    file,
    `checking the file took over ${timeoutMs / 1000} s, so it was stopped`,
    'check that the file is your stack file: a stack of 2,000 services is checked in about a second',
  );
}
