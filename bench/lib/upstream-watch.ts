// Which instances a lab gateway serves each route with, over time. Its upstream DNS responder
// answers on loopback inside the gateway node's namespace only, so bench/lib/dns-watch.ts
// runs there and prints each change; this keeps those lines, so that a bench can time when
// an instance left rotation or came back (wall clock, Date.now(), on both sides).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { onCleanup, ROOT } from './stack.ts';

const SCRIPT = path.join(ROOT, 'bench', 'lib', 'dns-watch.ts');

/** One line of dns-watch's output: a name's dials (sorted), or why its lookup failed. */
const watchLineSchema = z.object({
  at: z.number(),
  name: z.string(),
  dials: z.array(z.string()).optional(),
  error: z.string().optional(),
});
export type WatchLine = z.infer<typeof watchLineSchema>;

/** Each watched name's dials at one moment. */
export type UpstreamSets = ReadonlyMap<string, readonly string[]>;

export class UpstreamWatch {
  private readonly lines: WatchLine[] = [];
  private readonly waiters = new Set<() => void>();
  /** Why no more lines will come: the watcher exited, or printed something else. */
  private ended: string | undefined;
  private readonly exited: Promise<void>;
  private readonly removeCleanup: () => void;

  private constructor(
    private readonly child: ChildProcess,
    private readonly names: readonly string[],
  ) {
    this.removeCleanup = onCleanup(() => this.stop());
    this.exited = new Promise((resolve) => {
      const gone = (why: string) => {
        this.ended ??= why;
        this.notify();
        resolve();
      };
      // close, not exit: every line it printed has been read by then.
      child.once('close', (code, signal) => gone(`dns-watch exited (${signal ?? code})`));
      child.once('error', (error) => gone(`dns-watch: ${error.message}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed;
      try {
        parsed = watchLineSchema.safeParse(JSON.parse(line));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) this.lines.push(parsed.data);
      else this.ended ??= `dns-watch printed an unexpected line: ${line}`;
      this.notify();
    });
  }

  /**
   * Starts watching `names` (upstreamName of each route) at the responder of the gateway
   * whose Caddy lives in `caddyDir`, in network namespace `namespace`; resolves once every
   * name has answered. Stopped by `stop`, or by the bench's cleanups.
   */
  static async start(
    namespace: string,
    caddyDir: string,
    names: readonly string[],
    intervalMs = 25,
  ): Promise<UpstreamWatch> {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        namespace,
        process.execPath,
        '--import',
        'tsx',
        SCRIPT,
        JSON.stringify({ caddyDir, names, intervalMs }),
      ],
      // stdin is a pipe only so that the watcher sees it close when the bench goes.
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const watch = new UpstreamWatch(child, names);
    try {
      await watch.when(() => true, 0, 30_000, 'the first answer for every name');
    } catch (error) {
      await watch.stop();
      throw error;
    }
    return watch;
  }

  /** The sets now: every line received so far. */
  current(): Map<string, readonly string[] | undefined> {
    return this.replay(Number.POSITIVE_INFINITY).sets;
  }

  /**
   * The first wall-clock time at or after `since` when every name answered and `done` held
   * (`since` itself when it held already then); waits for it up to `timeoutMs`.
   */
  async when(
    done: (sets: UpstreamSets) => boolean,
    since: number,
    timeoutMs: number,
    what: string,
  ): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.find(done, since);
      if (found !== undefined) return found;
      if (this.ended !== undefined) throw new Error(`${what}: ${this.ended}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  async stop(): Promise<void> {
    this.removeCleanup();
    this.child.stdin?.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** The sets after every line stamped at or before `time`, and the lines after it. */
  private replay(time: number): {
    sets: Map<string, readonly string[] | undefined>;
    later: WatchLine[];
  } {
    const sets = new Map<string, readonly string[] | undefined>();
    let index = 0;
    for (; index < this.lines.length && this.lines[index]!.at <= time; index++)
      sets.set(this.lines[index]!.name, this.lines[index]!.dials);
    return { sets, later: this.lines.slice(index) };
  }

  private find(done: (sets: UpstreamSets) => boolean, since: number): number | undefined {
    const { sets, later } = this.replay(since);
    const holds = () =>
      this.names.every((name) => sets.get(name) !== undefined) &&
      done(sets as Map<string, readonly string[]>);
    if (holds()) return since;
    for (const [index, line] of later.entries()) {
      sets.set(line.name, line.dials);
      // The lines of one round share a stamp: judge the round as a whole.
      if (later[index + 1]?.at === line.at) continue;
      if (holds()) return line.at;
    }
    return undefined;
  }
}
