// The rounds of bench/container-start, run inside the private dockerd's network namespace
// (where published loopback ports are):
//   nsenter --net=/run/netns/<ns> -- node --import tsx bench/lib/container-start-rounds.ts '<json>'
// Each round starts one busybox httpd container twice, in alternating order:
// - flotilla: the instance as `plan` renders it from a one-service stack file, through the
//   agent's own path (ContainerRuntime.prepare → InstanceRunner: ContainerSupervisor + the
//   health monitor with its 100 ms warm-up probes) until the runner reports it healthy;
// - baseline: what `docker run -d --network <net> -p 127.0.0.1:<port>:8080` does (create +
//   start through the same Engine API client), then the same HTTP probe by hand every 100 ms.
// Prints one JSON document: per arm, the ms until the container ran and until healthy.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { probeHttp } from '../../src/agent/health/http.ts';
import { DockerEngine } from '../../src/container/engine/index.ts';
import { healthCheckFor } from '../../src/agent/process-spec.ts';
import { InstanceRunner } from '../../src/agent/instance-runner.ts';
import { ContainerRuntime } from '../../src/agent/runtime/container-runtime.ts';
import { planStack } from '../../src/plan/plan.ts';
import { parseStackText } from '../../src/spec/load.ts';
import { sleep } from './stack.ts';

const optionsSchema = z.object({
  socketPath: z.string(),
  /** A temp dir the bench owns (and removes): agent paths and the stack file's dir. */
  dir: z.string(),
  image: z.string(),
  rounds: z.number().int().positive(),
  flotillaPort: z.number().int(),
  baselinePort: z.number().int(),
});
type Options = z.infer<typeof optionsSchema>;

export interface ArmTiming {
  /** Until the container runs (Flotilla: the supervisor's `started`; baseline: start returned). */
  runningMs: number;
  /** Until the first passing health probe was reported. */
  healthyMs: number;
}

export const roundsOutputSchema = z.object({
  flotilla: z.array(z.object({ runningMs: z.number(), healthyMs: z.number() })),
  baseline: z.array(z.object({ runningMs: z.number(), healthyMs: z.number() })),
});

const STACK = 'bench-start';
const HTTPD = ['httpd', '-f', '-p', '8080', '-h', '/var/www'];
const PROBE_EVERY_MS = 100;
const PROBE_TIMEOUT_MS = 2_000;
const HEALTHY_WITHIN_MS = 30_000;
const BASELINE_NETWORK = 'bench-baseline';

function stackYaml(options: Options): string {
  return [
    `name: ${STACK}`,
    'services:',
    '  web:',
    `    image: ${options.image}`,
    `    command: ${JSON.stringify(HTTPD)}`,
    `    ports: { http: ${options.flotillaPort} }`,
    '    container_ports: { http: 8080 }',
    '    health: { http: { path: / } }',
    '',
  ].join('\n');
}

async function flotillaArm(options: Options, dir: string) {
  const loaded = parseStackText(stackYaml(options), path.join(dir, 'flotilla.yml'));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  const desired = planStack(loaded.stack, { stackDir: dir, stateDir: dir }).desired;
  const [node, state] = Object.entries(desired)[0]!;
  const instance = state.instances[0]!;
  const paths = {
    instances: path.join(dir, 'instances'),
    logs: path.join(dir, 'logs'),
    secretFiles: path.join(dir, 'secret-files'),
  };
  const log: string[] = [];
  // One runtime for every round, as the agent keeps one (its event stream stays open).
  const runtime = new ContainerRuntime({
    socketPath: options.socketPath,
    stack: STACK,
    node,
    paths,
    log: (line) => log.push(line),
  });
  const health = healthCheckFor(instance);
  const round = async (): Promise<ArmTiming> => {
    const started = performance.now();
    const prepared = runtime.prepare(instance, () => undefined);
    let runningMs = Number.NaN;
    let settle: (healthyMs: number) => void = () => {};
    const healthy = new Promise<number>((resolve) => (settle = resolve));
    const runner: InstanceRunner = new InstanceRunner({
      id: instance.id,
      service: instance.service,
      ports: instance.ports,
      supervisor: prepared.supervise(),
      checkTarget: prepared.checkTarget,
      ...(health && { health }),
      fingerprint: prepared.specHash,
      onChange: () => {
        if (runner.status().healthy) settle(performance.now() - started);
      },
      onEvent: () => {},
    });
    runner.supervisor.once('started', () => (runningMs = performance.now() - started));
    try {
      await runner.start();
      const healthyMs = await withinBound(healthy, () => runner.status().health_detail);
      return { runningMs, healthyMs };
    } finally {
      await runner.stop();
    }
  };
  return { round, close: () => runtime.close(), log };
}

async function baselineArm(options: Options) {
  const engine = new DockerEngine({ socketPath: options.socketPath });
  // `docker network create` once, as anyone would before `docker run --network`.
  await engine.networks.create({ name: BASELINE_NETWORK, labels: {} });
  const round = async (): Promise<ArmTiming> => {
    const started = performance.now();
    const { id } = await engine.containers.create({
      name: 'bench-baseline',
      image: options.image,
      cmd: HTTPD,
      ports: [{ containerPort: 8080, hostIp: '127.0.0.1', hostPort: options.baselinePort }],
      networkMode: BASELINE_NETWORK,
    });
    try {
      await engine.containers.start(id);
      const runningMs = performance.now() - started;
      let detail = 'not probed';
      const poll = async (): Promise<number> => {
        for (;;) {
          const result = await probeHttp({
            port: options.baselinePort,
            path: '/',
            timeoutMs: PROBE_TIMEOUT_MS,
          });
          if (result.ok) return performance.now() - started;
          detail = result.detail;
          await sleep(PROBE_EVERY_MS);
        }
      };
      const healthyMs = await withinBound(poll(), () => detail);
      return { runningMs, healthyMs };
    } finally {
      await engine.containers.remove(id, { force: true });
    }
  };
  return { round };
}

/** `promise`, or an error saying what the last probe saw once the bound passed. */
async function withinBound<T>(promise: Promise<T>, detail: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`not healthy within ${HEALTHY_WITHIN_MS} ms (last probe: ${detail()})`)),
      HEALTHY_WITHIN_MS,
    );
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const options = optionsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  let flotilla: Awaited<ReturnType<typeof flotillaArm>> | undefined;
  try {
    flotilla = await flotillaArm(options, options.dir);
    const baseline = await baselineArm(options);
    // One warm-up round each (the stack's network is made on Flotilla's first start, the
    // engine's caches fill): not counted.
    await flotilla.round();
    await baseline.round();
    const output: z.infer<typeof roundsOutputSchema> = { flotilla: [], baseline: [] };
    for (let i = 0; i < options.rounds; i++) {
      // Interleaved, alternating which goes first, so drift on a shared machine hits both.
      if (i % 2 === 0) {
        output.flotilla.push(await flotilla.round());
        output.baseline.push(await baseline.round());
      } else {
        output.baseline.push(await baseline.round());
        output.flotilla.push(await flotilla.round());
      }
    }
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } catch (error) {
    if (flotilla) console.error(`runtime log:\n${flotilla.log.join('\n')}`);
    throw error;
  } finally {
    flotilla?.close();
  }
}

// Run as a script (the bench's child); the bench itself imports only the output schema.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
