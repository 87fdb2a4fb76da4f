// `flotilla plan`: what would run where (placement, order, routes, firewall, reachability,
// cost) as a summary, JSON, or one generated artifact (--show), without changing anything.
import { planStack } from '../../plan/plan.ts';
import { renderPlan, planArtifact } from '../plan-report.ts';
import { loadStackOrReport } from '../stack-file.ts';
import { tailnetStack, TailscaleStatusFileError } from '../tailnet-addresses.ts';
import { toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

export const planCommand: CommandSpec = {
  usage:
    'flotilla plan [-f flotilla.yml] [--json] [--show caddy|firewall:<node>|segments:<node>|desired:<node>|acl] [--tailscale-status FILE]',
  options: {
    file: { type: 'string', short: 'f' },
    'tailscale-status': { type: 'string' },
    json: { type: 'boolean' },
    show: { type: 'string' },
  },
  positionals: [],
  async run({ values }, output: Output) {
    const loaded = await loadStackOrReport(values.file as string | undefined, output, {
      secrets: 'warn',
    });
    if (!loaded) return 1;
    let stack;
    try {
      stack = await tailnetStack(
        loaded.stack,
        values['tailscale-status'] as string | undefined,
        output,
      );
    } catch (error) {
      if (!(error instanceof TailscaleStatusFileError)) throw error;
      writeLine(output.err, `flotilla plan: ${error.message}`);
      return 1;
    }
    const plan = planStack(stack, { stackDir: loaded.dir, stateDir: loaded.stateDir });
    if (typeof values.show === 'string') {
      const artifact = planArtifact(plan, values.show);
      if ('error' in artifact) {
        writeLine(output.err, `flotilla plan: ${artifact.error}`);
        return 2;
      }
      writeLine(output.out, artifact.text);
      return 0;
    }
    writeLine(output.out, values.json ? toJson(plan) : renderPlan(plan, output));
    return 0;
  },
};
