// A real git server for tests: `git daemon` on loopback serving the repositories a test
// builds in a temp dir (git://127.0.0.1:PORT/<name>), so fetches go through git's own
// protocol, not a path on disk. Stopped by the PID it was started with, never by name.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const run = promisify(execFile);

/** A fixed identity and date-free environment, so commits never depend on the machine's config. */
const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: os.tmpdir(),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Flotilla Test',
  GIT_AUTHOR_EMAIL: 'test@flotilla.invalid',
  GIT_COMMITTER_NAME: 'Flotilla Test',
  GIT_COMMITTER_EMAIL: 'test@flotilla.invalid',
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: GIT_ENV });
  return stdout.trim();
}

export interface TestRepo {
  /** git://127.0.0.1:PORT/<name> */
  url: string;
  /** Writes `files` (relative path → content) and commits them on the current branch; the sha. */
  commit(files: Record<string, string>, message?: string): Promise<string>;
  /** Creates `name` at the current commit and switches to it. */
  branch(name: string): Promise<void>;
  /** Switches to an existing branch. */
  switchTo(name: string): Promise<void>;
  /** An annotated tag at the current commit. */
  tag(name: string): Promise<void>;
}

export interface GitServer {
  pid: number;
  /** A new repository served as `name`, on branch main, with no commit yet. */
  repo(name: string): Promise<TestRepo>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Resolves once something accepts connections on the port; false when `child` died first. */
async function listening(port: number, child: ChildProcess): Promise<boolean> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (connected) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startGitServer(): Promise<GitServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-git-server-'));
  const base = path.join(dir, 'repos');
  await mkdir(base);
  // The port was free a moment ago; another process may take it first, so try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      'git',
      [
        'daemon',
        '--reuseaddr',
        '--export-all',
        `--base-path=${base}`,
        '--listen=127.0.0.1',
        `--port=${port}`,
      ],
      { env: GIT_ENV, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const pid = child.pid;
    if (pid === undefined || !(await listening(port, child))) {
      await exited(child);
      if (attempt === 3) {
        await rm(dir, { recursive: true, force: true });
        throw new Error(`git daemon did not start: ${stderr}`);
      }
      continue;
    }
    return {
      pid,
      async repo(name) {
        const repoDir = path.join(base, name);
        await mkdir(repoDir);
        await git(repoDir, 'init', '--quiet', '--initial-branch=main');
        return {
          url: `git://127.0.0.1:${port}/${name}`,
          async commit(files, message = 'change') {
            for (const [file, content] of Object.entries(files)) {
              await mkdir(path.dirname(path.join(repoDir, file)), { recursive: true });
              await writeFile(path.join(repoDir, file), content);
            }
            await git(repoDir, 'add', '--all');
            await git(repoDir, 'commit', '--quiet', '--allow-empty', '-m', message);
            return git(repoDir, 'rev-parse', 'HEAD');
          },
          async branch(branch) {
            await git(repoDir, 'switch', '--quiet', '-c', branch);
          },
          async switchTo(branch) {
            await git(repoDir, 'switch', '--quiet', branch);
          },
          async tag(tag) {
            await git(repoDir, 'tag', '-a', '-m', tag, tag);
          },
        };
      },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGTERM');
        await exited(child);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
