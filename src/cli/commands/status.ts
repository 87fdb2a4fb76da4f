// `flotilla status`: every instance (node, state, health, uptime, restarts, last exit),
// the URLs and the CA that signs the local ones.
import type { StatusReport } from '../../hub/status-report.ts';
import { printEndpoints } from '../progress.ts';
import { connectRunningStack } from '../running-stack.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

function since(ms: number | undefined, now: number): string {
  if (ms === undefined) return '-';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

export const statusCommand: CommandSpec = {
  usage: 'flotilla status [-f flotilla.yml] [--json]',
  options: { file: { type: 'string', short: 'f' }, json: { type: 'boolean' } },
  positionals: [],
  async run({ values }, output: Output) {
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    const report = await running.client.get<StatusReport>('/api/v1/status');
    if (values.json) {
      writeLine(output.out, toJson(report));
      return 0;
    }
    const now = Date.now();
    const { color } = output;
    const urls = new Map<string, string>();
    for (const route of report.routes)
      if (!urls.has(route.service)) urls.set(route.service, route.url);
    // Which release each instance runs, once some service was deployed.
    const deployed = report.instances.some((instance) => instance.release !== undefined);
    const rows = report.instances.map((instance) => {
      const exit = instance.last_exit;
      return [
        instance.service,
        instance.id,
        instance.node,
        ...(deployed ? [instance.release === undefined ? '-' : String(instance.release)] : []),
        instance.state === 'failed' ? color.red(instance.state) : instance.state,
        instance.healthy
          ? color.green('healthy')
          : color.yellow(instance.reason ?? instance.health_detail),
        instance.state === 'running' ? since(instance.started_at, now) : '-',
        String(instance.restarts),
        exit ? `${exit.signal ?? `exit ${exit.code ?? '?'}`} ${since(exit.at, now)} ago` : '-',
        urls.get(instance.service) ?? '-',
      ];
    });
    writeLine(
      output.out,
      `${color.bold(`Stack ${report.stack}`)}: ${report.ready ? color.green('ready') : color.yellow('converging')}`,
    );
    const nodes = Object.entries(report.nodes);
    if (nodes.length > 1)
      writeLine(
        output.out,
        `Nodes: ${nodes
          .map(([node, { up, reported_at: at }]) =>
            up
              ? `${node} ${color.green('up')}`
              : `${node} ${color.red(at === null ? 'no report yet' : `lost (last report ${since(at, now)} ago)`)}`,
          )
          .join(', ')}`,
      );
    writeLine(
      output.out,
      table(
        [
          [
            'SERVICE',
            'INSTANCE',
            'NODE',
            ...(deployed ? ['RELEASE'] : []),
            'STATE',
            'HEALTH',
            'UPTIME',
            'RESTARTS',
            'LAST EXIT',
            'URL',
          ],
          ...rows,
        ],
        color.dim,
      ),
    );
    printEndpoints(report, output);
    return 0;
  },
};
