// bench/mesh-cost: what the WireGuard mesh costs between two lab nodes. TCP throughput
// (BENCH_MB megabytes, default 200, one stream) and round-trip latency (BENCH_RTTS 64-byte
// ping-pongs, default 2000) from node 1 to node 2, over the plain link (their public
// addresses) and over the mesh (wireguard-go, userspace: the kernel module is not
// available here), alternating, BENCH_RUNS times (default 3). Reports medians and ratios.
//
//   node_modules/.bin/tsx bench/mesh-cost.ts
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { labDownState, labUp } from '../src/lab/lab.ts';
import { ensureKeyPair } from '../src/mesh/keys.ts';
import { bringDownInterface, bringUpInterface } from '../src/mesh/wireguard.ts';
import { FIXTURES, machineLine, onCleanup, runBench, sleep } from './lib/stack.ts';
import { fmt, median, percentileSorted, ratio } from './lib/stats.ts';

const run = promisify(execFile);
const MEGABYTES = Number(process.env['BENCH_MB'] ?? 200);
const ROUND_TRIPS = Number(process.env['BENCH_RTTS'] ?? 2000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const PORT = 5201;
const TOOL = path.join(FIXTURES, 'tcp-bench.js');
const MESH = ['100.98.0.1', '100.98.0.2'];

interface Sample {
  mbPerSecond: number;
  rttMs: number[];
}

async function main(): Promise<void> {
  console.log(await machineLine('mesh-cost'));
  const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-mesh-cost-'));
  process.env.FLOTILLA_LAB_DIR = path.join(dir, 'labs');
  const lab = await labUp(`m${randomBytes(3).toString('hex')}`, 2);
  onCleanup(async () => {
    await labDownState(lab);
    await rm(dir, { recursive: true, force: true });
  });
  const [a, b] = lab.nodes as [(typeof lab.nodes)[0], (typeof lab.nodes)[0]];
  const keys = [
    await ensureKeyPair(path.join(dir, 'a.key')),
    await ensureKeyPair(path.join(dir, 'b.key')),
  ];
  const specs = [a, b].map((node, index) => ({
    netns: node.namespace,
    name: `flomc-${index}`,
    privateKeyFile: keys[index]!.file,
    address: `${MESH[index]}/24`,
    listenPort: 51820,
    stateDir: dir,
    peers: [
      {
        publicKey: keys[1 - index]!.publicKey,
        endpoint: `${[a, b][1 - index]!.address}:51820`,
        allowedIps: [`${MESH[1 - index]}/32`],
      },
    ],
  }));
  for (const spec of specs) await bringUpInterface(spec);
  onCleanup(async () => {
    for (const spec of specs) await bringDownInterface(spec);
  });
  const server = spawn(
    'ip',
    ['netns', 'exec', b.namespace, process.execPath, TOOL, 'server', String(PORT)],
    {
      stdio: 'ignore',
    },
  );
  onCleanup(async () => void server.kill());
  await sleep(500);

  const measure = async (address: string): Promise<Sample> => {
    const { stdout } = await run(
      'ip',
      [
        'netns',
        'exec',
        a.namespace,
        process.execPath,
        TOOL,
        'client',
        address,
        String(PORT),
        String(MEGABYTES),
        String(ROUND_TRIPS),
      ],
      { timeout: 300_000 },
    );
    return JSON.parse(stdout) as Sample;
  };
  await measure(MESH[1]!); // warm-up: the handshake, JIT
  const plain: Sample[] = [];
  const mesh: Sample[] = [];
  for (let index = 0; index < RUNS; index++) {
    plain.push(await measure(b.address));
    mesh.push(await measure(MESH[1]!));
  }
  const summary = (samples: Sample[]) => ({
    mbPerSecond: median(samples.map((sample) => sample.mbPerSecond)),
    p50: median(samples.map((sample) => percentileSorted(sample.rttMs, 50))),
    p99: median(samples.map((sample) => percentileSorted(sample.rttMs, 99))),
  });
  const p = summary(plain);
  const m = summary(mesh);
  console.log(
    `node1 → node2, ${RUNS} runs each (medians); one TCP stream of ${MEGABYTES} MB, ${ROUND_TRIPS} round trips of 64 bytes`,
  );
  console.log(
    `  plain link: ${fmt(p.mbPerSecond)} MB/s, RTT p50 ${fmt(p.p50 * 1000)} µs, p99 ${fmt(p.p99 * 1000)} µs`,
  );
  console.log(
    `  mesh (wireguard-go): ${fmt(m.mbPerSecond)} MB/s, RTT p50 ${fmt(m.p50 * 1000)} µs, p99 ${fmt(m.p99 * 1000)} µs`,
  );
  console.log(
    `  mesh / plain: throughput ${ratio(m.mbPerSecond, p.mbPerSecond)}, RTT p50 ${ratio(m.p50, p.p50)}, p99 ${ratio(m.p99, p.p99)}`,
  );
}

runBench(main);
