// The control plane of a detached `up`: runs until `flotilla down` (which stops every
// service) or SIGTERM (which leaves services running for the next daemon to adopt).
import { Daemon, type DaemonOptions } from '../../daemon/daemon.ts';
import { loadStackOrReport, type LoadedStack } from '../stack-file.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

/** Runs the daemon in this process until it stops; the exit code. */
export async function runDaemon(
  loaded: LoadedStack,
  output: Output,
  cluster?: DaemonOptions['cluster'],
): Promise<number> {
  const log = (line: string) => writeLine(output.out, `${new Date().toISOString()} ${line}`);
  const daemon = new Daemon({
    file: loaded.file,
    stack: loaded.stack,
    stateDir: loaded.stateDir,
    log,
    ...(cluster ? { cluster } : {}),
  });
  process.once('SIGTERM', () => void daemon.detach());
  process.once('SIGINT', () => void daemon.down());
  try {
    await daemon.start();
  } catch (error) {
    writeLine(output.err, `flotilla: ${(error as Error).message}`);
    await daemon.down();
    return 1;
  }
  log(`stack ${loaded.stack.name} is up; state in ${loaded.stateDir}`);
  await daemon.done;
  log('stopped');
  return 0;
}

export const daemonCommand: CommandSpec = {
  usage: 'flotilla daemon [-f flotilla.yml]',
  options: { file: { type: 'string', short: 'f' } },
  positionals: [],
  async run({ values }, output: Output) {
    const loaded = await loadStackOrReport(values.file as string | undefined, output);
    if (!loaded) return 1;
    return runDaemon(loaded, output);
  },
};
