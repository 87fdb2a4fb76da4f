// One restic operation per repository at a time within this process. restic's own lock
// covers other processes, but restic 0.14 fails at once on a locked repository instead of
// waiting, so two jobs sharing a target here must queue rather than race. A job whose steps
// must not be interleaved with another's (a verify reading the snapshot a concurrent
// backup's `forget` would remove) holds the queue for all of them: the steps it runs inside
// see the repository as already theirs.
import { AsyncLocalStorage } from 'node:async_hooks';

const tails = new Map<string, Promise<unknown>>();
const held = new AsyncLocalStorage<ReadonlySet<string>>();

export function inRepositoryQueue<T>(repository: string, operation: () => Promise<T>): Promise<T> {
  const holding = held.getStore();
  if (holding?.has(repository)) return operation();
  const previous = tails.get(repository) ?? Promise.resolve();
  const result = previous.then(() =>
    held.run(new Set([...(holding ?? []), repository]), operation),
  );
  const tail = result.catch(() => undefined);
  tails.set(repository, tail);
  // The map forgets a repository once its queue drains.
  void tail.then(() => {
    if (tails.get(repository) === tail) tails.delete(repository);
  });
  return result;
}
