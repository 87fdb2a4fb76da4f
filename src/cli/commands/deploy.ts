// `flotilla deploy <service>`: bundles the app directory (or a git ref), uploads it as a
// release and has the hub roll it out with no dropped request; `--release N` deploys a kept
// release again. The same tree twice is the same release: nothing to deploy.
import path from 'node:path';
import { readFile, rm } from 'node:fs/promises';
import { localIdentity } from '../../hub/deploy/deployer.ts';
import { UPLOAD_META_HEADER, type UploadMeta } from '../../hub/deploy/deploy-routes.ts';
import { createBundle } from '../../release/bundle.ts';
import { checkoutGitRef, GitSourceError, parseGitSource } from '../../release/git-source.ts';
import { ReleaseError } from '../../release/release-error.ts';
import type { Release } from '../../release/release-record.ts';
import type { CommandSpec } from '../command.ts';
import { followDeploy } from '../deploy-stream.ts';
import { HubRequestFailed, type HubClient } from '../hub-client.ts';
import { writeLine, type Output } from '../output.ts';
import { connectRunningStack } from '../running-stack.ts';
import { UsageError } from '../usage.ts';

export const deployCommand: CommandSpec = {
  usage:
    'flotilla deploy <service> [--from DIR | --git URL#REF | --release N] [-m MESSAGE] [--force REASON] [-f flotilla.yml] [--json]',
  options: {
    file: { type: 'string', short: 'f' },
    from: { type: 'string' },
    git: { type: 'string' },
    release: { type: 'string' },
    message: { type: 'string', short: 'm' },
    force: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: ['<service>'],
  async run({ values, positionals }, output: Output) {
    const service = positionals[0]!;
    const sources = (['from', 'git', 'release'] as const).filter(
      (key) => values[key] !== undefined,
    );
    if (sources.length > 1)
      throw new UsageError(
        `--${sources[0]} and --${sources[1]} both name what to deploy`,
        'give one of --from, --git, --release',
      );
    const number = values.release === undefined ? undefined : Number(values.release);
    if (number !== undefined && !(Number.isInteger(number) && number > 0))
      throw new UsageError(
        `--release ${String(values.release)} is not a release number`,
        'flotilla releases <service> lists them',
      );
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    const definition = running.loaded.stack.services[service];
    if (!definition) {
      writeLine(
        output.err,
        `flotilla deploy: no service named ${service} in ${running.loaded.file}`,
      );
      return 1;
    }
    const json = values.json === true;
    const by = localIdentity();
    const message = values.message as string | undefined;
    try {
      let release = number;
      if (release === undefined) {
        const uploaded = await upload(
          running.client,
          service,
          {
            dir:
              (values.from as string | undefined) ??
              path.resolve(running.loaded.dir, definition.run?.cwd ?? '.'),
            git: values.git as string | undefined,
            by,
            message,
          },
          output,
          json,
        );
        if (uploaded === undefined) return 0;
        release = uploaded;
      }
      return await followDeploy(
        running.client,
        `/api/v1/services/${encodeURIComponent(service)}/deploy`,
        {
          release,
          by,
          ...(message !== undefined && { message }),
          ...(values.force !== undefined && { force: values.force }),
        },
        output,
        json,
      );
    } catch (error) {
      if (error instanceof ReleaseError || error instanceof GitSourceError) {
        writeLine(output.err, `flotilla deploy: ${error.message}`);
        if (error.hint) writeLine(output.err, `hint: ${error.hint}`);
        return 1;
      }
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla deploy: ${error.message}`);
      const hint = (error.details as { hint?: string } | undefined)?.hint;
      if (hint) writeLine(output.err, `hint: ${hint}`);
      return 1;
    }
  },
};

/** Bundles and uploads; the release number, or undefined when that release is already live. */
async function upload(
  client: HubClient,
  service: string,
  source: { dir: string; git: string | undefined; by: string; message: string | undefined },
  output: Output,
  json: boolean,
): Promise<number | undefined> {
  const checkout =
    source.git === undefined ? undefined : await checkoutGitRef(parseGitSource(source.git));
  try {
    const dir = checkout?.dir ?? path.resolve(source.dir);
    const bundle = await createBundle(dir);
    try {
      const meta: UploadMeta = {
        sha256: bundle.sha256,
        files: bundle.files,
        source: checkout
          ? { kind: 'git', ...parseGitSource(source.git!), commit: checkout.commit }
          : { kind: 'dir', path: dir },
        by: source.by,
        ...(source.message !== undefined && { message: source.message }),
      };
      const answer = await client.upload<{
        release: Release;
        existing: boolean;
        current: number | null;
      }>(`/api/v1/services/${encodeURIComponent(service)}/releases`, await readFile(bundle.file), {
        [UPLOAD_META_HEADER]: Buffer.from(JSON.stringify(meta)).toString('base64'),
      });
      const { release } = answer;
      if (answer.existing && answer.current === release.number) {
        if (json)
          writeLine(
            output.out,
            JSON.stringify({ ok: true, unchanged: true, release: release.number }),
          );
        else
          writeLine(
            output.out,
            `${service}: nothing to deploy, ${dir} is release ${release.number}, which is live`,
          );
        return undefined;
      }
      if (!json)
        writeLine(
          output.out,
          `${service}: ${answer.existing ? 'deploying kept' : 'uploaded'} release ${release.number} (${bundle.files} files, ${bundle.bytes} bytes, ${release.sha256.slice(0, 12)})`,
        );
      return release.number;
    } finally {
      await rm(bundle.file, { force: true });
    }
  } finally {
    await checkout?.cleanup();
  }
}
