// One restic operation per repository at a time within this process. restic's own lock
// covers other processes, but restic 0.14 fails at once on a locked repository instead of
// waiting, so two jobs sharing a target here must queue rather than race.
const tails = new Map<string, Promise<unknown>>();

export function inRepositoryQueue<T>(repository: string, operation: () => Promise<T>): Promise<T> {
  const previous = tails.get(repository) ?? Promise.resolve();
  const result = previous.then(operation);
  const tail = result.catch(() => undefined);
  tails.set(repository, tail);
  // The map forgets a repository once its queue drains.
  void tail.then(() => {
    if (tails.get(repository) === tail) tails.delete(repository);
  });
  return result;
}
