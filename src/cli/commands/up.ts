// `flotilla up`: brings a stack up on this machine. With --detach it returns once every
// service is healthy and routed (exit 0) or names what failed (exit 1); without it, it
// stays in the foreground streaming events until Ctrl-C, which stops everything.
import path from 'node:path';
import { Daemon, StackNotSingleNode } from '../../daemon/daemon.ts';
import { readEndpoint } from '../../hub/api-endpoint.ts';
import { HubClient } from '../hub-client.ts';
import { awaitConvergence, printEndpoints } from '../progress.ts';
import { loadStackOrReport, type LoadedStack } from '../stack-file.ts';
import { startDetachedDaemon } from '../detached-daemon.ts';
import { maskSecrets, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { applyAndReport } from './apply.ts';

export const upCommand: CommandSpec = {
  usage: 'flotilla up [-f flotilla.yml] [--detach] [--timeout 120]',
  options: {
    file: { type: 'string', short: 'f' },
    detach: { type: 'boolean', short: 'd' },
    timeout: { type: 'string' },
  },
  positionals: [],
  async run({ values }, output: Output) {
    const loaded = await loadStackOrReport(values.file as string | undefined, output);
    if (!loaded) return 1;
    const timeoutMs = Number(values.timeout ?? 120) * 1000;
    const running = await readEndpoint(loaded.stateDir);
    if (running && (await answers(new HubClient(running)))) {
      writeLine(
        output.out,
        `stack ${loaded.stack.name} is already running: applying ${loaded.file}`,
      );
      return applyAndReport(new HubClient(running), loaded.file, output, timeoutMs);
    }
    writeLine(
      output.out,
      `${output.color.bold(`Bringing up ${loaded.stack.name}`)} (state in ${loaded.stateDir})`,
    );
    return values.detach
      ? upDetached(loaded, output, timeoutMs)
      : upForeground(loaded, output, timeoutMs);
  },
};

async function answers(client: HubClient): Promise<boolean> {
  try {
    await client.get('/api/v1/status');
    return true;
  } catch {
    return false;
  }
}

async function upDetached(loaded: LoadedStack, output: Output, timeoutMs: number): Promise<number> {
  const daemon = await startDetachedDaemon(
    loaded,
    ['daemon', '-f', path.resolve(loaded.file)],
    output,
  );
  if (!daemon) return 1;
  return report(
    await awaitConvergence(new HubClient(daemon.endpoint), output, timeoutMs),
    output,
    `log: ${daemon.logFile}`,
  );
}

async function upForeground(
  loaded: LoadedStack,
  output: Output,
  timeoutMs: number,
): Promise<number> {
  const daemon = new Daemon({
    file: loaded.file,
    stack: loaded.stack,
    stateDir: loaded.stateDir,
    log: (line) => writeLine(output.out, output.color.dim(`  · ${maskSecrets(line)}`)),
  });
  const stop = () => {
    writeLine(output.out, '\nstopping everything…');
    void daemon.down();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let endpoint;
  try {
    endpoint = await daemon.start();
  } catch (error) {
    writeLine(output.err, `flotilla up: ${(error as Error).message}`);
    if (error instanceof StackNotSingleNode)
      writeLine(
        output.err,
        'hint: run `flotilla hub` on its hub node and join the others with `flotilla node token` and `flotilla agent --join` (try it first in the lab: flotilla lab up)',
      );
    await daemon.down();
    return 1;
  }
  const result = await awaitConvergence(
    new HubClient({ ...endpoint, pid: process.pid }),
    output,
    timeoutMs,
  );
  report(result, output, 'Ctrl-C stops everything');
  await daemon.done;
  writeLine(output.out, 'stopped');
  return result.ok ? 0 : 1;
}

function report(
  result: Awaited<ReturnType<typeof awaitConvergence>>,
  output: Output,
  footer: string,
): number {
  if (!result.ok) {
    writeLine(output.err, output.color.red(`✗ ${result.reason}`));
    writeLine(output.err, output.color.dim(`  ${footer}`));
    return 1;
  }
  writeLine(
    output.out,
    output.color.green(`✓ ${result.report.stack} is up: every service healthy and routed`),
  );
  printEndpoints(result.report, output);
  writeLine(output.out, output.color.dim(`  ${footer}`));
  return 0;
}
