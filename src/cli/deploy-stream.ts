// Follows a deploy or rollback the hub runs: each step as it happens, then the result, or the
// step that failed with the node, the instance, its last lines and a hint. Shared by
// `deploy` and `rollback`; the exit code is 0 only when every release went live.
import type { DeployFailure } from '../hub/deploy/deploy-routes.ts';
import type { DeployResult } from '../hub/deploy/deployer.ts';
import type { HubClient } from './hub-client.ts';
import { maskSecrets, writeLine, type Output } from './output.ts';

export async function followDeploy(
  client: HubClient,
  path: string,
  body: Record<string, unknown>,
  output: Output,
  json: boolean,
): Promise<number> {
  let failure: DeployFailure | undefined;
  let result: DeployResult | DeployResult[] | undefined;
  try {
    await client.events(
      path,
      (event, data) => {
        if (event === 'step' && !json) writeLine(output.out, `  ${String(data)}`);
        if (event === 'done') result = data as DeployResult | DeployResult[];
        if (event === 'failed') failure = data as DeployFailure;
      },
      undefined,
      body,
    );
  } catch (error) {
    // The hub went away mid-deploy (it settles the deploy when it is back).
    if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    writeLine(
      output.err,
      'flotilla: lost the hub mid-deploy: each instance keeps the release it served; see flotilla history once the hub is back',
    );
    return 1;
  }
  if (json) {
    writeLine(
      output.out,
      JSON.stringify(failure ? { ok: false, ...failure } : { ok: true, result }, null, 2),
    );
    return failure || !result ? 1 : 0;
  }
  if (failure) {
    const where = [failure.instance, failure.node && `on ${failure.node}`]
      .filter(Boolean)
      .join(' ');
    writeLine(
      output.err,
      `flotilla: ${failure.step} failed${where ? ` (${where})` : ''}: ${failure.error}`,
    );
    for (const line of failure.output ?? []) writeLine(output.err, `  | ${maskSecrets(line)}`);
    if (failure.hint) writeLine(output.err, `hint: ${failure.hint}`);
    return 1;
  }
  if (!result) {
    writeLine(
      output.err,
      'flotilla: the hub ended the deploy stream without a result: see flotilla history',
    );
    return 1;
  }
  for (const done of Array.isArray(result) ? result : [result])
    writeLine(
      output.out,
      `${done.service}: release ${done.to} is live (was ${done.from === 0 ? 'not deployed' : `release ${done.from}`}), ${(done.duration_ms / 1000).toFixed(1)} s`,
    );
  if (Array.isArray(result) && result.length === 0)
    writeLine(output.out, 'every service already runs those releases');
  return 0;
}
