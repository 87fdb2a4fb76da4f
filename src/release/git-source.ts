// Where a release comes from when it is not a local directory: one ref of a git repository
// (`deploy --git URL#REF`, or the commit a push webhook names), fetched shallow into a fresh
// temp dir. The URL and ref reach git's argv, so anything git could read as an option or as
// a command to run (`-oProxyCommand=…`, `ext::sh -c …`) is refused before git sees it, and
// git runs with hooks off, only plain transports allowed and never a terminal prompt.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { baseEnv, failed, start, type Finished } from '../backup/child.ts';
import { ReleaseError } from './release-error.ts';

export interface GitSource {
  url: string;
  /** A branch, a tag or a full commit sha. */
  ref: string;
}

/** A source that cannot be used or a fetch that failed: a message, a hint, git's own words. */
export class GitSourceError extends ReleaseError {
  override name = 'GitSourceError';

  constructor(
    message: string,
    override readonly hint: string,
    /** The tail of git's stderr, when git ran. */
    readonly stderr = '',
  ) {
    super(message, hint);
  }
}

const SOURCE_FORMAT = 'URL#REF, e.g. https://git.example.com/acme/api.git#main';
/** `<helper>::<address>` makes git run git-remote-<helper>; `ext::` runs any command. */
const REMOTE_HELPER = /^[A-Za-z][A-Za-z0-9+.-]*::/;
const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

function refuseUrl(url: string): void {
  const hint = `give the repository as ${SOURCE_FORMAT}`;
  if (url === '') throw new GitSourceError('the git source has no URL', hint);
  if (url.startsWith('-'))
    throw new GitSourceError(
      `the git URL "${displayUrl(url)}" starts with "-", which git would read as an option`,
      hint,
    );
  if (REMOTE_HELPER.test(url))
    throw new GitSourceError(
      `the git URL "${displayUrl(url)}" names a remote-helper transport (${url.slice(0, url.indexOf('::') + 2)}), which can run commands`,
      'use an https://, ssh://, git:// or file:// URL (or a path)',
    );
  if (CONTROL.test(url) || /\s/.test(url))
    throw new GitSourceError(`the git URL contains whitespace or control characters`, hint);
}

/**
 * A ref git can fetch and nothing else: no option, no refspec (`a:b` would write a local
 * ref), none of the characters git forbids in ref names.
 */
function refuseRef(ref: string): void {
  const hint = 'give a branch, a tag or a full commit sha after "#", e.g. #main, #v1.2.0';
  if (ref === '') throw new GitSourceError('the git ref after "#" is empty', hint);
  if (ref.startsWith('-'))
    throw new GitSourceError(
      `the git ref "${ref}" starts with "-", which git would read as an option`,
      hint,
    );
  if (
    CONTROL.test(ref) ||
    /[\s:^~?*[\\]/.test(ref) ||
    ref.includes('..') ||
    ref.includes('@{') ||
    ref.endsWith('/') ||
    ref.endsWith('.lock') ||
    ref.startsWith('/')
  )
    throw new GitSourceError(`"${ref}" is not a valid git ref`, hint);
}

/** "URL#REF" (REF defaults to HEAD, the remote's default branch). */
export function parseGitSource(text: string): GitSource {
  const hash = text.lastIndexOf('#');
  const source =
    hash === -1
      ? { url: text, ref: 'HEAD' }
      : {
          url: text.slice(0, hash),
          ref: text.slice(hash + 1),
        };
  refuseUrl(source.url);
  refuseRef(source.ref);
  return source;
}

/** The URL without its password (https://user:token@host/…), for messages. */
function displayUrl(url: string): string {
  if (!URL.canParse(url)) return url; // scp-like (git@host:repo) or a path: no password
  const parsed = new URL(url);
  if (parsed.password === '') return url;
  parsed.password = '***';
  return parsed.toString();
}

/**
 * An http(s) URL's user and password move out of git's argv (which `ps` shows anyone)
 * into an Authorization header passed through the environment (which only the owner and
 * root can read), sent from the first request on.
 */
function splitCredentials(url: string): { url: string; env: Record<string, string> } {
  if (!URL.canParse(url)) return { url, env: {} };
  const parsed = new URL(url);
  if (!/^https?:$/.test(parsed.protocol) || parsed.password === '') return { url, env: {} };
  const basic = Buffer.from(
    `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`,
  ).toString('base64');
  parsed.username = '';
  parsed.password = '';
  return {
    url: parsed.toString(),
    env: {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    },
  };
}

/** Git's own config hardening, on every call: no hooks, no command-running transport. */
const GIT_CONFIG = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'protocol.ext.allow=never',
  '-c',
  'core.fsmonitor=false',
  '-c',
  'transfer.fsckObjects=true',
];

function gitEnv(credentials: Record<string, string>): NodeJS.ProcessEnv {
  const extra: Record<string, string> = {
    ...credentials,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
  };
  // An ssh URL may rely on the operator's agent; nothing else of our environment goes along.
  if (process.env.SSH_AUTH_SOCK) extra.SSH_AUTH_SOCK = process.env.SSH_AUTH_SOCK;
  return baseEnv(extra);
}

const STDERR_LINES = 4;

/** The last few lines git printed, with the URL's password blanked out. */
function stderrTail(stderr: string, url: string): string {
  const password = URL.canParse(url) ? new URL(url).password : '';
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-STDERR_LINES)
    .join('\n');
  return password === '' ? lines : lines.split(decodeURIComponent(password)).join('***');
}

function fetchHint(stderr: string, source: GitSource): string {
  if (/couldn't find remote ref|not our ref|no such ref/i.test(stderr))
    return `check that "${source.ref}" is a branch, tag or full commit sha of ${displayUrl(source.url)} (git ls-remote ${displayUrl(source.url)})`;
  if (
    /not appear to be a git repository|not found|not exported|repository .* does not exist/i.test(
      stderr,
    )
  )
    return `check the repository URL ${displayUrl(source.url)}`;
  if (
    /authentication|permission denied|could not read username|terminal prompts disabled/i.test(
      stderr,
    )
  )
    return 'the repository needs credentials this machine does not have (an ssh key, or a token in the URL)';
  return `check that this machine can reach ${displayUrl(source.url)}`;
}

interface GitRun {
  finished: Finished;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

async function git(
  args: readonly string[],
  cwd: string,
  deadline: number,
  credentials: Record<string, string>,
): Promise<GitRun> {
  const running = start(['git', ...GIT_CONFIG, ...args], { env: gitEnv(credentials), cwd });
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      running.child.kill('SIGKILL');
    },
    Math.max(0, deadline - Date.now()),
  );
  const finished = await running.done;
  clearTimeout(timer);
  return { finished, stdout: running.stdout(), stderr: running.stderr(), timedOut };
}

export interface Checkout {
  /** The work tree (its .git is kept; a release bundle leaves it out). */
  dir: string;
  /** The full sha checked out. */
  commit: string;
  cleanup(): Promise<void>;
}

/** A shallow fetch of one ref into a fresh temp dir, checked out (detached). */
export async function checkoutGitRef(
  source: GitSource,
  options: { timeoutMs?: number; tmpDir?: string } = {},
): Promise<Checkout> {
  refuseUrl(source.url);
  refuseRef(source.ref);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const dir = await mkdtemp(path.join(options.tmpDir ?? os.tmpdir(), 'flotilla-git-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const what = `${displayUrl(source.url)}#${source.ref}`;
  const remote = splitCredentials(source.url);
  try {
    const steps: { args: string[]; what: string }[] = [
      { args: ['init', '--quiet'], what: `git init in ${dir}` },
      {
        args: ['fetch', '--quiet', '--depth', '1', '--no-tags', '--', remote.url, source.ref],
        what: `git fetch of ${what}`,
      },
      { args: ['checkout', '--quiet', '--detach', 'FETCH_HEAD'], what: `git checkout of ${what}` },
      { args: ['rev-parse', '--verify', 'HEAD^{commit}'], what: `git rev-parse of ${what}` },
    ];
    let last: GitRun | undefined;
    for (const step of steps) {
      last = await git(step.args, dir, deadline, remote.env);
      const tail = stderrTail(last.stderr, source.url);
      if (last.timedOut)
        throw new GitSourceError(
          `${step.what} took longer than ${Math.round(timeoutMs / 1000)} s`,
          `check that this machine can reach ${displayUrl(source.url)}`,
          tail,
        );
      if (last.finished.code !== 0)
        throw new GitSourceError(
          failed(step.what, last.finished, tail),
          fetchHint(tail, source),
          tail,
        );
    }
    const commit = last!.stdout.trim();
    // A sha names exactly one commit: anything else would be a lie about what is deployed.
    if (FULL_SHA.test(source.ref) && commit !== source.ref.toLowerCase())
      throw new GitSourceError(
        `fetching ${what} checked out ${commit}, not the commit asked for`,
        'give the full sha of a commit, not of a tag or tree',
      );
    return { dir, commit, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
