// `flotilla releases <service>`: the kept releases, newest first: which is live, where each
// runs, where it came from, who made it; and the deploy lock, if someone holds it.
import type { DeployLock } from '../../bus/release-store.ts';
import type { Release } from '../../release/release-record.ts';
import type { CommandSpec } from '../command.ts';
import { HubRequestFailed } from '../hub-client.ts';
import { writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';

interface ReleasesAnswer {
  service: string;
  current: number | null;
  releases: (Release & { running: string[] })[];
  lock: DeployLock | null;
}

export const releasesCommand: CommandSpec = {
  usage: 'flotilla releases <service> [-f flotilla.yml] [--json]',
  options: { file: { type: 'string', short: 'f' }, json: { type: 'boolean' } },
  positionals: ['<service>'],
  async run({ values, positionals }, output: Output) {
    const service = positionals[0]!;
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    let answer: ReleasesAnswer;
    try {
      answer = await running.client.get<ReleasesAnswer>(
        `/api/v1/services/${encodeURIComponent(service)}/releases`,
      );
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla releases: ${error.message}`);
      return 1;
    }
    if (values.json === true) {
      writeLine(output.out, JSON.stringify(answer, null, 2));
      return 0;
    }
    if (answer.releases.length === 0)
      writeLine(output.out, `${service} has no release yet: flotilla deploy ${service}`);
    for (const release of [...answer.releases].reverse()) {
      const live = release.number === answer.current ? ' (live)' : '';
      const source =
        release.source.kind === 'dir'
          ? release.source.path
          : `${release.source.url}#${release.source.ref} ${release.source.commit.slice(0, 12)}`;
      writeLine(
        output.out,
        `${String(release.number).padStart(4)}${live}  ${new Date(release.created_at).toISOString()}  ${release.sha256.slice(0, 12)}  ${release.by}  ${source}${release.message ? `  "${release.message}"` : ''}`,
      );
      if (release.running.length > 0)
        writeLine(output.out, `      runs on ${release.running.join(', ')}`);
    }
    if (answer.lock)
      writeLine(
        output.out,
        `deploys locked by ${answer.lock.holder} since ${new Date(answer.lock.since).toISOString()}: ${answer.lock.message}`,
      );
    return 0;
  },
};
