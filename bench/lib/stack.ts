// Bringing a bench stack up and down with the real `flotilla` CLI, in its own temporary
// directory and state dir, and always cleaning up: `down`, then SIGKILL for any process
// the stack recorded (instances, Caddy, nats-server, the daemon) that is still the same
// process (PID and start time), then the temporary directory.
import { execFile, spawn } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  listInstanceRecords,
  readInstanceRecord,
} from '../../src/agent/process/instance-records.ts';
import { lookupUpstreams } from '../../src/agent/gateway/upstream-lookup.ts';
import { upstreamName } from '../../src/plan/caddy.ts';
import { readProcStat } from '../../src/system/proc.ts';
import { readEndpoint } from '../../src/hub/api-endpoint.ts';
import type { StatusReport } from '../../src/hub/status-report.ts';
import { HubClient } from '../../src/cli/hub-client.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'flotilla.js');
export const FIXTURES = path.join(ROOT, 'bench', 'fixtures');

export interface BenchStack {
  /** Temporary directory holding the state dir (and the stack file, unless used in place). */
  dir: string;
  file: string;
  stateDir: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the command, ms. */
  ms: number;
}

/**
 * A fresh temporary directory for a stack. With `yaml`, the stack file is written there
 * (with `copy`: fixture files beside it); with `inPlace`, an existing stack file is used
 * where it is (its relative paths resolve from its own folder) and only state lives here.
 */
export async function createStack(
  prefix: string,
  source: { yaml: string; copy?: string[] } | { inPlace: string },
): Promise<BenchStack> {
  const dir = await mkdtemp(path.join(tmpdir(), `flotilla-bench-${prefix}-`));
  // Service users (postgres) must be able to traverse to their data dirs.
  await chmod(dir, 0o755);
  const stack: BenchStack = {
    dir,
    file: path.join(dir, 'flotilla.yml'),
    stateDir: path.join(dir, 'state'),
  };
  onCleanup(() => teardown(stack));
  if ('inPlace' in source) {
    stack.file = path.resolve(source.inPlace);
  } else {
    await writeFile(stack.file, source.yaml);
    for (const file of source.copy ?? []) await copyFile(file, path.join(dir, path.basename(file)));
  }
  return stack;
}

/**
 * Runs `flotilla <args>` for this stack (its own FLOTILLA_STATE_DIR), timing it; `input`, if
 * given, is its standard input (a password).
 */
export function cli(
  stack: BenchStack,
  args: string[],
  timeoutMs = 180_000,
  input?: string,
): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1', FLOTILLA_STATE_DIR: stack.stateDir },
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const ms = performance.now() - started;
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr: error && !stderr ? String(error) : stderr, ms });
      },
    );
    child.stdin?.end(input);
  });
}

/** `flotilla <args>`, or an error with its output when it exits non-zero. */
export async function cliOk(
  stack: BenchStack,
  args: string[],
  timeoutMs?: number,
): Promise<CliResult> {
  const result = await cli(stack, args, timeoutMs);
  if (result.code !== 0) {
    const log = await readFile(path.join(stack.stateDir, 'daemon.log'), 'utf8').catch(() => '');
    throw new Error(
      `flotilla ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}\n--- daemon.log (end) ---\n${log.split('\n').slice(-30).join('\n')}`,
    );
  }
  return result;
}

/**
 * The hub's status report, straight from its API (`GET /api/v1/status`): the same JSON
 * `flotilla status --json` prints, without a CLI process (about 1 s of CPU) per look.
 */
export async function hubStatus(stack: BenchStack): Promise<StatusReport> {
  const endpoint = await readEndpoint(stack.stateDir);
  if (!endpoint) throw new Error(`no hub is running for ${stack.file}`);
  return new HubClient(endpoint).get<StatusReport>('/api/v1/status');
}

export function caPath(stack: BenchStack): string {
  return path.join(stack.stateDir, 'caddy', 'storage', 'pki', 'authorities', 'local', 'root.crt');
}

/**
 * The dials the stack's gateway serves `service`'s route (by its port name) with now: its
 * upstream DNS responder's answer, which changes with health (Caddy's config does not).
 */
export function gatewayDials(stack: BenchStack, service: string, port = 'http'): Promise<string[]> {
  return lookupUpstreams(path.join(stack.stateDir, 'caddy'), upstreamName({ service, port }));
}

/** Polls `probe` until it returns a value (not undefined), bounded by `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Whether nothing listens on `port` (tries to bind it on loopback and on every address). */
export async function portFree(port: number): Promise<boolean> {
  for (const host of ['127.0.0.1', '0.0.0.0']) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

interface OwnedProcess {
  what: string;
  pid: number;
  startTime: number;
  /** Leads its own process group (instances, Caddy): the group goes with it. */
  group: boolean;
}

function stillRunning(owned: OwnedProcess): boolean {
  const stat = readProcStat(owned.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTime === owned.startTime;
}

/** Every process this stack recorded under its state dir, identified by PID and start time. */
async function recordedProcesses(stateDir: string): Promise<OwnedProcess[]> {
  const owned: OwnedProcess[] = [];
  for (const record of listInstanceRecords(path.join(stateDir, 'agent', 'instances')))
    owned.push({ what: record.id, pid: record.pid, startTime: record.startTime, group: true });
  const caddy = readInstanceRecord(path.join(stateDir, 'caddy'), 'caddy');
  if (caddy) owned.push({ what: 'caddy', pid: caddy.pid, startTime: caddy.startTime, group: true });
  const bare: [string, number | undefined][] = [
    [
      'nats-server',
      Number(
        (await readFile(path.join(stateDir, 'bus', 'nats.pid'), 'utf8').catch(() => '')).trim(),
      ) || undefined,
    ],
    ['daemon', (await readEndpoint(stateDir))?.pid],
  ];
  for (const [what, pid] of bare) {
    if (pid === undefined) continue;
    const stat = readProcStat(pid);
    if (stat) owned.push({ what, pid, startTime: stat.startTime, group: false });
  }
  return owned;
}

/**
 * `flotilla down`, then SIGKILL for whatever the stack recorded that still runs, then the
 * temporary directory (unless `keepDir`). Never throws; returns what it had to kill.
 */
export async function teardown(
  stack: BenchStack,
  options: { keepDir?: boolean } = {},
): Promise<string[]> {
  const killed: string[] = [];
  try {
    const before = await recordedProcesses(stack.stateDir);
    if (await readEndpoint(stack.stateDir)) {
      const down = await cli(stack, ['down', '-f', stack.file], 150_000);
      if (down.code !== 0)
        console.error(`flotilla down failed (${down.code}): ${down.stdout}${down.stderr}`);
    }
    const after = await recordedProcesses(stack.stateDir);
    const seen = new Set<string>();
    for (const owned of [...before, ...after]) {
      const key = `${owned.pid}/${owned.startTime}`;
      if (seen.has(key) || !stillRunning(owned)) continue;
      seen.add(key);
      try {
        process.kill(owned.group ? -owned.pid : owned.pid, 'SIGKILL');
      } catch {
        try {
          process.kill(owned.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      killed.push(`${owned.what} (pid ${owned.pid})`);
    }
    if (killed.length > 0) console.error(`teardown: killed leftover ${killed.join(', ')}`);
  } catch (error) {
    console.error(`teardown of ${stack.dir}: ${(error as Error).message}`);
  }
  if (process.env['BENCH_KEEP']) console.error(`BENCH_KEEP: kept ${stack.dir}`);
  else if (!options.keepDir) {
    await rm(stack.dir, { recursive: true, force: true }).catch(() => {});
  }
  return killed;
}

/** The end of a bench's stack: `flotilla down` timed and printed, then teardown. */
export async function downAndTeardown(stack: BenchStack): Promise<void> {
  const down = await cli(stack, ['down', '-f', stack.file], 150_000).catch(() => undefined);
  if (down) console.log(`\ndown: ${(down.ms / 1000).toPrecision(3)} s (exit ${down.code})`);
  await teardown(stack);
}

/** Runs a bench: a crash exits non-zero (a missed goal does not); cleanups always run. */
export function runBench(main: () => Promise<void>): void {
  main()
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    })
    .finally(() => runCleanups());
}

const cleanups = new Set<() => Promise<unknown>>();
let signalsHooked = false;

/** Runs `fn` when the bench ends (runCleanups) or is interrupted (SIGINT/SIGTERM). */
export function onCleanup(fn: () => Promise<unknown>): () => void {
  cleanups.add(fn);
  if (!signalsHooked) {
    signalsHooked = true;
    let cleaning = false;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      // on, not once: under tsx a Ctrl-C can arrive twice (the terminal's and tsx's relay),
      // and a second, unhandled one would kill the bench halfway through its cleanup.
      process.on(signal, () => {
        if (cleaning) return;
        cleaning = true;
        console.error(`\n${signal}: cleaning up…`);
        void runCleanups().finally(() => process.exit(130));
      });
    }
  }
  return () => cleanups.delete(fn);
}

export async function runCleanups(): Promise<void> {
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of pending) await fn().catch(() => {});
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `bench/<name>: node v20, 2 × AMD EPYC, <date>` */
export async function machineLine(name: string): Promise<string> {
  const { cpus } = await import('node:os');
  const cpu = cpus();
  return `bench/${name}: node ${process.version}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${new Date().toISOString()}`;
}

export interface TimedLine {
  /** ms since the command started. */
  ms: number;
  line: string;
}

/** Like `cli`, and also timestamps each line of stdout as it arrives (progress output). */
export function cliTimed(
  stack: BenchStack,
  args: string[],
  timeoutMs = 180_000,
): Promise<CliResult & { lines: TimedLine[] }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', FLOTILLA_STATE_DIR: stack.stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: TimedLine[] = [];
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      const ms = performance.now() - started;
      for (const line of parts) lines.push({ ms, line });
    });
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (partial) lines.push({ ms: performance.now() - started, line: partial });
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout,
        stderr: signal ? `${stderr}\nkilled by ${signal} after ${timeoutMs} ms` : stderr,
        ms: performance.now() - started,
        lines,
      });
    });
  });
}
