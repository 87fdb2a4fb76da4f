// This node's releases: bundles the hub pushes (in chunks, over its signed requests), each
// unpacked once into `releases/<service>/<sha256>/` and built there (the service's
// `deploy.build`, as the service's user, without its secrets), and the release command a
// deploy runs once. A release directory is ready only once its build passed (a marker
// file); the hub asks before it pushes, so a bundle crosses the bus once per node.
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAX_BUNDLE_BYTES } from '../release/bundle.ts';
import { SHA256_HEX } from '../release/release-record.ts';
import {
  releaseChunkSchema,
  releasePrepareSchema,
  releaseRunSchema,
  type PrepareAnswer,
  type ReleasePrepare,
  type ReleaseRunAnswer,
} from '../protocol/release-requests.ts';
import { unpackBundle } from '../release/unpack.ts';
import { releaseDir } from '../plan/release-variants.ts';
import { lastLines, runCaptured } from '../system/run-captured.ts';
import { resolveUser } from '../system/users.ts';
import {
  processSpecFor,
  SERVICE_PATH,
  type AgentPaths,
  type SecretLookup,
} from './process-spec.ts';

const READY_MARKER = '.flotilla-ready';
const BUILD_TIMEOUT_MS = 15 * 60_000;
const OUTPUT_LINES = 30;
const RELEASE_COMMAND_TIMEOUT_MS = 15 * 60_000;

export class NodeReleases {
  constructor(
    private readonly stateDir: string,
    private readonly paths: AgentPaths,
  ) {}

  private incoming(digest: string): string {
    return path.join(this.stateDir, 'releases', '.incoming', `${digest}.tgz`);
  }

  /** Appends a chunk; chunks come in order, from offset 0 (a restart begins again at 0). */
  async receive(input: unknown): Promise<{ have: number }> {
    const chunk = releaseChunkSchema.parse(input);
    const file = this.incoming(chunk.sha256);
    // Release directories must be reachable by the service users; the incoming bundles not.
    await mkdir(path.join(this.stateDir, 'releases'), { recursive: true, mode: 0o755 });
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const have = await sizeOf(file);
    if (chunk.offset !== 0 && chunk.offset !== have)
      throw new Error(`chunk at ${chunk.offset}, but ${have} bytes are here`);
    const data = Buffer.from(chunk.data, 'base64');
    if (chunk.offset + data.length > MAX_BUNDLE_BYTES)
      throw new Error('bundle over the size limit');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file, { flags: chunk.offset === 0 ? 'w' : 'a', mode: 0o600 });
      out.once('error', reject);
      out.end(data, resolve);
    });
    return { have: chunk.offset + data.length };
  }

  async prepare(input: unknown): Promise<PrepareAnswer> {
    const request = releasePrepareSchema.parse(input);
    const dir = releaseDir(this.stateDir, request.service, request.sha256);
    if (await exists(path.join(dir, READY_MARKER))) {
      await this.prune(request);
      return { ready: true };
    }
    const file = this.incoming(request.sha256);
    const have = await sizeOf(file);
    if (have !== request.bytes) return { ready: false, have: have > request.bytes ? 0 : have };
    const user = request.user === undefined ? undefined : resolveUser(request.user);
    await mkdir(path.dirname(dir), { recursive: true, mode: 0o755 });
    await rm(dir, { recursive: true, force: true });
    try {
      await unpackBundle(
        file,
        { sha256: request.sha256, bytes: request.bytes },
        dir,
        user ? { owner: { uid: user.uid, gid: user.gid } } : {},
      );
    } finally {
      await rm(file, { force: true });
    }
    if (request.build) {
      const build = await runCaptured(request.build, {
        cwd: dir,
        // A build runs the app's own scripts (npm ci): it gets no secret and no agent env.
        env: { PATH: SERVICE_PATH, HOME: user?.home ?? '/root', LANG: 'C.UTF-8' },
        ...(user && { uid: user.uid, gid: user.gid }),
        timeoutMs: BUILD_TIMEOUT_MS,
      });
      if (build.code !== 0) {
        await rm(dir, { recursive: true, force: true });
        const how = build.timedOut
          ? `timed out after ${BUILD_TIMEOUT_MS / 60_000} min`
          : build.code === null
            ? `was killed (${build.signal ?? 'could not start'})`
            : `exited with ${build.code}`;
        return {
          ready: false,
          error: `the build (${request.build.join(' ')}) ${how}`,
          output: lastLines(build.output, OUTPUT_LINES),
        };
      }
    }
    await writeFile(path.join(dir, READY_MARKER), `${new Date().toISOString()}\n`);
    await this.prune(request);
    return { ready: true };
  }

  /**
   * The release command (migrations), once, as an instance of the new release would run:
   * its environment with its secrets, its user, its release directory.
   */
  async runOnce(input: unknown, secrets: SecretLookup): Promise<ReleaseRunAnswer> {
    const request = releaseRunSchema.parse(input);
    const spec = processSpecFor(request.instance, this.paths, secrets);
    const user = spec.user === undefined ? undefined : resolveUser(spec.user);
    const run = await runCaptured(request.command, {
      cwd: spec.cwd,
      env: spec.env,
      ...(user && { uid: user.uid, gid: user.gid }),
      timeoutMs: RELEASE_COMMAND_TIMEOUT_MS,
    });
    const output = lastLines(run.output, OUTPUT_LINES);
    if (run.code === 0) return { ok: true, output };
    const how = run.timedOut
      ? 'timed out'
      : run.code === null
        ? `was killed (${run.signal ?? 'could not start'})`
        : `exited with ${run.code}`;
    return {
      ok: false,
      error: `the release command (${request.command.join(' ')}) ${how}`,
      output,
    };
  }

  /** Removes the service's release directories the hub no longer keeps. */
  private async prune(request: ReleasePrepare): Promise<void> {
    const serviceDir = path.dirname(releaseDir(this.stateDir, request.service, request.sha256));
    const keep = new Set([...request.keep, request.sha256]);
    for (const entry of await readdir(serviceDir).catch(() => [])) {
      if (SHA256_HEX.test(entry) && !keep.has(entry))
        await rm(path.join(serviceDir, entry), { recursive: true, force: true });
    }
  }
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
