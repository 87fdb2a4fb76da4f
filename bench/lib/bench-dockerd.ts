// A private dockerd for the container benches (test/helpers/dockerd.ts), in a network
// namespace of its own so that containers are reached only on that namespace's loopback
// (traffic from the host to private ranges is flagged on these machines), with the busybox
// test image imported. It is stopped when the bench ends or is interrupted (onCleanup), and
// anything a bench runs against it goes through `inNetns`.
import type { Dockerd } from '../../test/helpers/dockerd.ts';
import { startDockerd } from '../../test/helpers/dockerd.ts';
import { buildTestImage } from '../../test/helpers/test-image.ts';
import { onCleanup } from './stack.ts';

/** busybox: httpd, wget, sleep … (no registry is reachable: the image is imported). */
export const BENCH_IMAGE = 'flotilla-bench/busybox:1';

export interface BenchDockerd {
  dockerd: Dockerd;
  /** `/run/netns/<name>` of dockerd's namespace. */
  netnsPath: string;
  /** argv run inside dockerd's network namespace (only the network: /sys stays the host's). */
  inNetns(argv: readonly string[]): string[];
}

export async function startBenchDockerd(): Promise<BenchDockerd> {
  const dockerd = await startDockerd({ netns: true });
  onCleanup(() => dockerd.stop());
  await buildTestImage(dockerd.engine, { reference: BENCH_IMAGE });
  const netnsPath = `/run/netns/${dockerd.netns!}`;
  return {
    dockerd,
    netnsPath,
    inNetns: (argv) => ['nsenter', `--net=${netnsPath}`, '--', ...argv],
  };
}
