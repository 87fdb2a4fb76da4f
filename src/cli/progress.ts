// Live progress while a stack converges: one line each time an instance moves between
// pending → starting → healthy (or failed, with its last log lines), then the URLs.
import type { StatusReport } from '../hub/status-report.ts';
import type { HubClient } from './hub-client.ts';
import { maskSecrets, writeLine, type Output } from './output.ts';

const POLL_MS = 150;
const FAILURE_LOG_LINES = 10;

type Phase = 'pending' | 'starting' | 'healthy' | 'failed';

function phaseOf(instance: StatusReport['instances'][number]): Phase {
  if (instance.state === 'failed') return 'failed';
  if (instance.healthy) return 'healthy';
  return instance.state === 'waiting' ? 'pending' : 'starting';
}

export type ConvergeResult = { ok: true; report: StatusReport } | { ok: false; reason: string };

/** Polls the hub until the stack is ready, an instance failed, or the timeout passed. */
export async function awaitConvergence(
  client: HubClient,
  output: Output,
  timeoutMs: number,
): Promise<ConvergeResult> {
  const { color } = output;
  const seen = new Map<string, Phase>();
  const deadline = Date.now() + timeoutMs;
  let report: StatusReport | undefined;
  for (;;) {
    report = await client.get<StatusReport>('/api/v1/status');
    const width = Math.max(...report.instances.map((instance) => instance.id.length), 8);
    for (const instance of report.instances) {
      const phase = phaseOf(instance);
      if (seen.get(instance.id) === phase) continue;
      seen.set(instance.id, phase);
      const label = {
        pending: color.dim('pending'),
        starting: color.yellow('starting'),
        healthy: color.green('healthy'),
        failed: color.red('failed'),
      }[phase];
      const detail =
        phase === 'failed' || phase === 'pending'
          ? ` ${color.dim(instance.reason ?? instance.health_detail)}`
          : '';
      writeLine(output.out, `  ${instance.id.padEnd(width)}  ${label}${detail}`);
    }
    const failed = report.instances.filter((instance) => instance.state === 'failed');
    if (failed.length > 0) {
      for (const instance of failed)
        await printLastLines(client, output, instance.service, instance.id);
      return { ok: false, reason: `${failed.map((instance) => instance.id).join(', ')} failed` };
    }
    const gatewayError = Object.entries(report.gateways).find(([, gateway]) => gateway.error);
    if (gatewayError)
      return { ok: false, reason: `gateway ${gatewayError[0]}: ${gatewayError[1].error}` };
    if (report.ready) return { ok: true, report };
    if (Date.now() > deadline) {
      const pending = report.instances
        .filter((instance) => !instance.healthy)
        .map((instance) => `${instance.id} (${instance.reason ?? instance.health_detail})`);
      return {
        ok: false,
        reason: `not ready after ${timeoutMs / 1000}s: ${pending.join(', ') || 'routes not loaded by the gateway yet'}`,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function printLastLines(
  client: HubClient,
  output: Output,
  service: string,
  instance: string,
): Promise<void> {
  try {
    const { lines } = await client.get<{ lines: string[] }>(
      `/api/v1/services/${encodeURIComponent(service)}/logs?lines=${FAILURE_LOG_LINES}`,
    );
    const own = lines.filter((line) => line.startsWith(`${instance} | `));
    if (own.length === 0) return;
    writeLine(output.err, output.color.dim(`  last lines of ${instance}:`));
    for (const line of own) writeLine(output.err, `    ${maskSecrets(line)}`);
  } catch {
    // The logs are a courtesy here: the failure itself is already reported.
  }
}

export function printEndpoints(report: StatusReport, output: Output): void {
  for (const route of report.routes)
    writeLine(
      output.out,
      `  ${output.color.cyan(route.url)}  → ${route.service} (${route.healthy}/${route.total} healthy)`,
    );
  for (const [node, gateway] of Object.entries(report.gateways)) {
    if (gateway.ca_path)
      writeLine(
        output.out,
        output.color.dim(`  CA for *.localhost on ${node}: ${gateway.ca_path} (curl --cacert)`),
      );
  }
}
