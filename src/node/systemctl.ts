// systemctl for the units Flotilla writes: argv only, a bounded wait, and a failure that says
// where systemd's own account of it is.
import { runCaptured } from '../system/run-captured.ts';
import { NodeSetupFailed } from './node-setup-error.ts';

const SYSTEMCTL_TIMEOUT_MS = 30_000;

export async function systemctl(args: string[], unit: string): Promise<void> {
  const result = await runCaptured(['systemctl', ...args], {
    cwd: '/',
    env: { PATH: process.env.PATH },
    timeoutMs: SYSTEMCTL_TIMEOUT_MS,
  });
  if (result.code !== 0)
    throw new NodeSetupFailed(
      `systemctl ${args.join(' ')} failed: ${result.output.trim().split('\n').at(-1) ?? ''}`,
      `journalctl -u ${unit} shows its log`,
    );
}
