// `flotilla logs` for an image instance: its container's output as the engine keeps it
// (json-file, rotated by the engine; the engine reads across rotated files), history and
// follow, in the same shape as a process's log file gives (lines, in batches). A follow
// outlives the container's restarts: when the engine ends the stream (the container
// stopped), it is reopened from the last line's time once the container runs again.
import type { DockerEngine } from '../../../container/engine/index.ts';

const REOPEN_MS = 1_000;

/** The instance's container, if there is one. */
async function containerOf(
  engine: DockerEngine,
  labels: Record<string, string>,
): Promise<string | undefined> {
  const [container] = await engine.containers.list(labels);
  return container?.id;
}

/** The last `count` lines (stdout and stderr, interleaved as written). */
export async function containerLogHistory(
  engine: DockerEngine,
  labels: Record<string, string>,
  count: number,
): Promise<string[]> {
  const id = await containerOf(engine, labels);
  if (id === undefined) return [];
  const lines: string[] = [];
  for await (const { line } of await engine.logs.open(id, { tail: count })) lines.push(line);
  return lines;
}

export interface ContainerLogFollower {
  close(): void;
}

/** The last `lines` lines, then every new one, until close(). */
export function followContainerLogs(
  engine: DockerEngine,
  labels: Record<string, string>,
  onLines: (lines: string[]) => void,
  options: { lines?: number } = {},
): ContainerLogFollower {
  const abort = new AbortController();
  const { signal } = abort;
  let since: string | undefined;
  const follow = async () => {
    while (!signal.aborted) {
      try {
        const id = await containerOf(engine, labels);
        if (id !== undefined) {
          const stream = await engine.logs.open(id, {
            follow: true,
            timestamps: true,
            signal,
            ...(since === undefined ? { tail: options.lines ?? 10 } : { since }),
          });
          for await (const { line, time } of stream) {
            // `since` includes lines written at that very moment: skip what was sent.
            if (since !== undefined && time !== undefined && time <= since) continue;
            if (time !== undefined) since = time;
            onLines([line]);
          }
        }
      } catch {
        // The container went between list and open, or the engine restarts: try again.
      }
      await new Promise((resolve) => setTimeout(resolve, REOPEN_MS));
    }
  };
  void follow();
  return { close: () => abort.abort() };
}
