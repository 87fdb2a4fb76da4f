// A private dockerd for the container benches (test/helpers/dockerd.ts), in a network
// namespace of its own so that containers are reached only on that namespace's loopback
// (traffic from the host to private ranges is flagged on these machines), with the busybox
// test image imported. It is stopped when the bench ends or is interrupted (onCleanup), and
// anything a bench runs against it goes through `inNetns` (the flotilla CLI: `cli`, with
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
  /** `/run/netns/<name>` of dockerd's namespace. */
  netnsPath: string;
  /** argv run inside dockerd's network namespace (only the network: /sys stays the host's). */
  inNetns(argv: readonly string[]): string[];
  /** `flotilla <args>` for `stack` in dockerd's namespace, timed (like stack.ts's `cli`). */
  cli(stack: BenchStack, args: readonly string[], timeoutMs?: number): Promise<CliResult>;
}

export async function startBenchDockerd(): Promise<BenchDockerd> {
  const dockerd = await startDockerd({ netns: true });
  onCleanup(() => dockerd.stop());
  await buildTestImage(dockerd.engine, { reference: BENCH_IMAGE });
  const netnsPath = `/run/netns/${dockerd.netns!}`;
  const inNetns = (argv: readonly string[]) => ['nsenter', `--net=${netnsPath}`, '--', ...argv];
  const cli = (stack: BenchStack, args: readonly string[], timeoutMs = 180_000) => {
    const started = performance.now();
    const [program, ...rest] = inNetns([process.execPath, BIN, ...args]);
    const env = {
      ...process.env,
      NO_COLOR: '1',
      FLOTILLA_STATE_DIR: stack.stateDir,
      FLOTILLA_DOCKER_SOCKET: dockerd.socketPath,
    };
    return new Promise<CliResult>((resolve) => {
      execFile(
        program!,
        rest,
        { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          const ms = performance.now() - started;
          resolve({ code, stdout, stderr: error && !stderr ? String(error) : stderr, ms });
        },
      );
    });
  };
  return { dockerd, netnsPath, inNetns, cli };
}
