// Finding the hub of a running stack from the CLI: the stack file names the stack, the
// state dir holds the hub's endpoint and token.
import { readEndpoint } from '../hub/api-endpoint.ts';
import { HubClient } from './hub-client.ts';
import { writeLine, type Output } from './output.ts';
import { loadStackOrReport, type LoadedStack } from './stack-file.ts';

export interface RunningStack {
  loaded: LoadedStack;
  client: HubClient;
}

export async function connectRunningStack(
  file: string | undefined,
  output: Output,
): Promise<RunningStack | undefined> {
  const loaded = await loadStackOrReport(file, output);
  if (!loaded) return undefined;
  const endpoint = await readEndpoint(loaded.stateDir);
  if (!endpoint) {
    writeLine(output.err, `flotilla: stack ${loaded.stack.name} is not running here`);
    writeLine(output.err, `hint: start it with \`flotilla up -f ${loaded.file}\``);
    return undefined;
  }
  return { loaded, client: new HubClient(endpoint) };
}
