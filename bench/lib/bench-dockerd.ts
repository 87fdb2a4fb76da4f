// A private dockerd for the container benches (test/helpers/dockerd.ts), in a network
// namespace of its own so that containers are reached only on that namespace's loopback
// (traffic from the host to private ranges is flagged on these machines), with the busybox
// test image imported. It is stopped when the bench ends or is interrupted (onCleanup), and
// anything a bench runs against it goes through `run` (the flotilla CLI: `cli`, with
// FLOTILLA_DOCKER_SOCKET naming this dockerd, so a daemon `up` starts uses it too).
import { execFile } from 'node:child_process';
import type { Dockerd } from '../../test/helpers/dockerd.ts';
import { startDockerd } from '../../test/helpers/dockerd.ts';
import { buildTestImage } from '../../test/helpers/test-image.ts';
import { BIN, type BenchStack, type CliResult, onCleanup, ROOT } from './stack.ts';

/** busybox: httpd, wget, sleep … (no registry is reachable: the image is imported). */
export const BENCH_IMAGE = 'flotilla-bench/busybox:1';

export interface BenchDockerd {
  dockerd: Dockerd;
  /** argv in dockerd's namespace, timed; killed by its PID if the bench is interrupted. */
  run(argv: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** `flotilla <args>` for `stack` in dockerd's namespace, timed (like stack.ts's `cli`). */
  cli(stack: BenchStack, args: readonly string[], timeoutMs?: number): Promise<CliResult>;
}

export async function startBenchDockerd(): Promise<BenchDockerd> {
  const dockerd = await startDockerd({ netns: true });
  onCleanup(() => dockerd.stop());
  await buildTestImage(dockerd.engine, { reference: BENCH_IMAGE });
  const netnsPath = `/run/netns/${dockerd.netns!}`;
  // Only the network namespace: /sys (cgroups) stays the host's.
  const inNetns = (argv: readonly string[]) => ['nsenter', `--net=${netnsPath}`, '--', ...argv];
  const run = (argv: readonly string[], timeoutMs: number, env?: NodeJS.ProcessEnv) =>
    runOwned(inNetns(argv), timeoutMs, env);
  const cli = (stack: BenchStack, args: readonly string[], timeoutMs = 180_000) =>
    run([process.execPath, BIN, ...args], timeoutMs, {
      ...process.env,
      NO_COLOR: '1',
      FLOTILLA_STATE_DIR: stack.stateDir,
      FLOTILLA_DOCKER_SOCKET: dockerd.socketPath,
    });
  return { dockerd, run, cli };
}

/**
 * argv, timed; when the bench is interrupted it is SIGKILLed by its PID before what was
 * registered earlier (dockerd) is stopped. nsenter execs argv, so the PID is the program's.
 */
function runOwned(
  argv: readonly string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        forget();
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        const ms = performance.now() - started;
        resolve({ code, stdout, stderr: error && !stderr ? String(error) : stderr, ms });
      },
    );
    const forget = onCleanup(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGKILL');
      await exited;
    });
  });
}
