// For commands that plan a `mesh.provider: tailscale` stack: the tailnet's addresses, from
// a recorded `tailscale status --json` file or from this machine's tailscale. Without a
// tailnet, plan still works with addresses allocated from mesh.cidr, and says so.
import { readFile } from 'node:fs/promises';
import { withTailnetAddresses } from '../mesh/tailnet-stack.ts';
import {
  parseTailscaleStatus,
  readTailscaleStatus,
  TailscaleStatusError,
} from '../mesh/tailscale.ts';
import type { Stack } from '../spec/schema.ts';
import { writeLine, type Output } from './output.ts';

export class TailscaleStatusFileError extends Error {}

export async function tailnetStack(
  stack: Stack,
  statusFile: string | undefined,
  output: Output,
): Promise<Stack> {
  if (stack.mesh.provider !== 'tailscale') return stack;
  let devices;
  try {
    devices =
      statusFile === undefined
        ? await readTailscaleStatus()
        : parseTailscaleStatus(JSON.parse(await readFile(statusFile, 'utf8')));
  } catch (error) {
    if (statusFile !== undefined)
      throw new TailscaleStatusFileError(
        `${statusFile} is not \`tailscale status --json\` output (${(error as Error).message})`,
      );
    if (!(error instanceof TailscaleStatusError)) throw error;
    writeLine(
      output.err,
      output.color.yellow(
        `note: mesh addresses come from mesh.cidr, not the tailnet: ${error.message}`,
      ),
    );
    return stack;
  }
  const { stack: pinned, mapping } = withTailnetAddresses(stack, devices);
  for (const node of mapping.missing)
    writeLine(output.err, output.color.yellow(`note: ${mapping.hints[node]}`));
  for (const node of mapping.offline)
    writeLine(output.err, output.color.yellow(`note: node ${node}'s tailnet device is offline`));
  return pinned;
}
