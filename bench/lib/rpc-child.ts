// A bench helper process the bench talks to by calls over Node's IPC channel: the cluster
// simulation runs the hub in one (so its CPU and memory are its own) and the simulated agents
// in others. The parent forks a TypeScript entry with tsx and calls its methods; the child
// serves them. A child whose parent is gone (crash, Ctrl-C) cleans up and exits on its own,
// and the parent's cleanup kills it by PID and start time if it is still there.
import { fork, type ChildProcess } from 'node:child_process';
import { readProcStat } from '../../src/system/proc.ts';
import { ROOT, onCleanup } from './stack.ts';

interface CallMessage {
  call: number;
  method: string;
  args: unknown[];
}

type Answer = { ok: true; value: unknown } | { ok: false; error: string };
type AnswerMessage = Answer & { answer: number };

/** How long a call may take before the bench gives up on the child. */
const DEFAULT_CALL_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;

export class RpcChild {
  private nextCall = 1;
  private readonly pending = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout }
  >();
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message: AnswerMessage) => {
      const pending = this.pending.get(message.answer);
      if (!pending) return;
      this.pending.delete(message.answer);
      clearTimeout(pending.timer);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(new Error(`${name}: ${message.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const [id, pending] of this.pending) {
        clearTimeout(pending.timer);
        pending.reject(new Error(`${name} exited (${signal ?? `code ${code}`})`));
        this.pending.delete(id);
      }
    });
  }

  /** Forks `entry` (a .ts file under bench/) with tsx and `nodeOptions`; its output goes to the bench's. */
  static start(name: string, entry: string, nodeOptions: string[] = []): RpcChild {
    const child = fork(entry, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx', ...nodeOptions],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (child.pid === undefined) throw new Error(`${name} could not be started`);
    const rpc = new RpcChild(name, child, child.pid);
    const startTime = readProcStat(child.pid)?.startTime;
    onCleanup(() => rpc.kill(startTime));
    return rpc;
  }

  call<T>(method: string, args: unknown[] = [], timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<T> {
    const call = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(call);
        reject(new Error(`${this.name}: ${method} did not answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(call, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.child.send({ call, method, args } satisfies CallMessage);
    });
  }

  /** Asks the child to clean up and exit (its `stop` method), then kills it if it has not. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.call('stop', [], STOP_TIMEOUT_MS).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last resort: SIGTERM (the child cleans up), then SIGKILL, only if still the same process. */
  private async kill(startTime: number | undefined): Promise<void> {
    const same = () => {
      const stat = readProcStat(this.pid);
      return stat !== undefined && stat.state !== 'Z' && stat.startTime === startTime;
    };
    if (!same()) return;
    process.kill(this.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (same()) process.kill(this.pid, 'SIGKILL');
    }, STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

export type Methods = Record<string, (...args: never[]) => unknown>;

/**
 * The child's side: answers each call with `methods[name](...args)`. `stop` must be one of
 * them; it also runs when the parent goes away or on SIGTERM/SIGINT, then the child exits.
 */
export function serveRpc(methods: Methods & { stop(): Promise<void> }): void {
  let stopping: Promise<void> | undefined;
  const stopAndExit = () => {
    stopping ??= methods
      .stop()
      .catch((error: unknown) => console.error(error))
      .finally(() => process.exit(0));
    return stopping;
  };
  process.on('message', (message: CallMessage) => {
    const answer = (reply: Answer) => {
      if (process.connected) process.send!({ answer: message.call, ...reply });
    };
    const method = methods[message.method];
    if (method === undefined) {
      answer({ ok: false, error: `no method ${message.method}` });
      return;
    }
    if (message.method === 'stop') {
      answer({ ok: true, value: null });
      void stopAndExit();
      return;
    }
    Promise.resolve()
      .then(() => (method as (...args: unknown[]) => unknown)(...message.args))
      .then(
        (value) => answer({ ok: true, value: value ?? null }),
        (error: unknown) =>
          answer({
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
      );
  });
  process.on('disconnect', () => void stopAndExit());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void stopAndExit());
}
