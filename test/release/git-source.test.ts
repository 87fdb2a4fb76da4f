// Git sources against a real `git daemon` on loopback: a branch, an annotated tag and a
// commit sha are fetched and checked out with the right files and commit; a missing ref or
// repository is a GitSourceError with git's words and a hint; URLs and refs git would read
// as options or as commands never reach git.
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkoutGitRef,
  GitSourceError,
  parseGitSource,
  type GitSource,
} from '../../src/release/git-source.ts';
import { ReleaseError } from '../../src/release/release-error.ts';
import { startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.ts';

describe('parseGitSource', () => {
  it('splits URL#REF at the last "#", and defaults the ref to HEAD', () => {
    expect(parseGitSource('https://git.example.com/acme/api.git#main')).toEqual({
      url: 'https://git.example.com/acme/api.git',
      ref: 'main',
    });
    expect(parseGitSource('git@example.com:acme/api.git')).toEqual({
      url: 'git@example.com:acme/api.git',
      ref: 'HEAD',
    });
    expect(parseGitSource('/srv/git/api#release/1.2')).toEqual({
      url: '/srv/git/api',
      ref: 'release/1.2',
    });
  });

  it.each([
    ['', /no URL/],
    ['#main', /no URL/],
    ['https://example.com/a.git#', /ref after "#" is empty/],
    ['-oProxyCommand=touch /tmp/pwned#main', /starts with "-"/],
    ['--upload-pack=touch /tmp/pwned', /starts with "-"/],
    ['https://example.com/a.git#--upload-pack=touch', /starts with "-"/],
    ['ext::sh -c touch% /tmp/pwned#main', /remote-helper transport \(ext::\)/],
    ['EXT::sh#main', /remote-helper transport/],
    ['fd::3#main', /remote-helper transport/],
    ['https://example.com/a.git#main:refs/heads/x', /not a valid git ref/],
    ['https://example.com/a.git#a..b', /not a valid git ref/],
    ['https://example.com/a.git#ma in', /not a valid git ref/],
    ['https://exa mple.com/a.git#main', /whitespace/],
  ])('refuses %j', (text, message) => {
    let error: unknown;
    try {
      parseGitSource(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GitSourceError);
    expect((error as GitSourceError).message).toMatch(message);
    expect((error as GitSourceError).hint).not.toBe('');
  });
});

describe('checkoutGitRef from a real git daemon', () => {
  let server: GitServer;
  let repo: TestRepo;
  let first: string;
  let tagged: string;
  let mainHead: string;
  let featureHead: string;
  let tmpDir: string;

  beforeAll(async () => {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-git-source-test-'));
    server = await startGitServer();
    repo = await server.repo('app');
    first = await repo.commit({ 'server.js': 'v1\n', 'lib/util.js': 'util 1\n' }, 'one');
    tagged = await repo.commit({ 'server.js': 'v2\n' }, 'two');
    await repo.tag('v2.0.0');
    await repo.branch('feature');
    featureHead = await repo.commit({ 'server.js': 'feature\n' }, 'feature');
    await repo.switchTo('main');
    mainHead = await repo.commit({ 'server.js': 'v3\n' }, 'three');
  });

  afterAll(async () => {
    await server?.stop();
    await rm(tmpDir, { recursive: true, force: true });
  });

  async function fetched(source: GitSource): Promise<{ commit: string; server: string }> {
    const checkout = await checkoutGitRef(source, { tmpDir });
    try {
      expect(path.dirname(checkout.dir)).toBe(tmpDir);
      return {
        commit: checkout.commit,
        server: await readFile(path.join(checkout.dir, 'server.js'), 'utf8'),
      };
    } finally {
      await checkout.cleanup();
      expect(existsSync(checkout.dir)).toBe(false);
    }
  }

  it('fetches a branch: its head commit and files', async () => {
    expect(await fetched({ url: repo.url, ref: 'main' })).toEqual({
      commit: mainHead,
      server: 'v3\n',
    });
    expect(await fetched({ url: repo.url, ref: 'feature' })).toEqual({
      commit: featureHead,
      server: 'feature\n',
    });
  });

  it('fetches the default branch when the ref is HEAD', async () => {
    expect(await fetched(parseGitSource(repo.url))).toEqual({ commit: mainHead, server: 'v3\n' });
  });

  it('fetches an annotated tag: the commit it points at', async () => {
    expect(await fetched(parseGitSource(`${repo.url}#v2.0.0`))).toEqual({
      commit: tagged,
      server: 'v2\n',
    });
  });

  it('fetches a commit by its full sha, even one no branch has at its head', async () => {
    const checkout = await checkoutGitRef({ url: repo.url, ref: first }, { tmpDir });
    try {
      expect(checkout.commit).toBe(first);
      expect(await readFile(path.join(checkout.dir, 'server.js'), 'utf8')).toBe('v1\n');
      expect(await readFile(path.join(checkout.dir, 'lib/util.js'), 'utf8')).toBe('util 1\n');
      // Shallow: git records the cut in .git/shallow, the history before it is not fetched.
      expect(await readFile(path.join(checkout.dir, '.git', 'shallow'), 'utf8')).toBe(`${first}\n`);
    } finally {
      await checkout.cleanup();
    }
  });

  it('an unknown ref: a GitSourceError with git’s words and a hint, and no dir left', async () => {
    const error = await checkoutGitRef({ url: repo.url, ref: 'no-such-branch' }, { tmpDir }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(GitSourceError);
    // A ReleaseError: `flotilla deploy` prints its message and hint and exits 1.
    expect(error).toBeInstanceOf(ReleaseError);
    const { message, hint, stderr } = error as GitSourceError;
    expect(message).toContain(`git fetch of ${repo.url}#no-such-branch failed (exit 128)`);
    expect(message).toContain("couldn't find remote ref no-such-branch");
    expect(stderr).toContain('no-such-branch');
    expect(hint).toContain('git ls-remote');
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('an unknown commit sha: refused by the server, clear error', async () => {
    const error = await checkoutGitRef({ url: repo.url, ref: '1'.repeat(40) }, { tmpDir }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(GitSourceError);
    expect((error as GitSourceError).message).toContain('not our ref');
    expect((error as GitSourceError).hint).toContain('full commit sha');
  });

  it('an unknown repository: the hint says to check the URL', async () => {
    const url = repo.url.replace(/\/app$/, '/nothing-here');
    const error = await checkoutGitRef({ url, ref: 'main' }, { tmpDir }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(GitSourceError);
    expect((error as GitSourceError).hint).toContain('check the repository URL');
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('refuses option-like URLs and refs and ext:: before running git (nothing is created)', async () => {
    const marker = path.join(tmpDir, 'pwned');
    for (const source of [
      { url: `-oProxyCommand=touch ${marker}`, ref: 'main' },
      { url: `--upload-pack=touch ${marker}`, ref: 'main' },
      { url: repo.url, ref: `--upload-pack=touch ${marker}` },
      { url: `ext::sh -c touch% ${marker}`, ref: 'main' },
    ]) {
      await expect(checkoutGitRef(source, { tmpDir })).rejects.toBeInstanceOf(GitSourceError);
    }
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('moves a password out of the URL (and argv) into a header, and never prints it', async () => {
    // A stand-in for an https forge (this test's own, on loopback): it records what git
    // asks and says the repository does not exist.
    const requests: { url: string; authorization: string | undefined }[] = [];
    const forge = http.createServer((request, response) => {
      requests.push({ url: request.url ?? '', authorization: request.headers.authorization });
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => forge.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = forge.address() as AddressInfo;
      const error = await checkoutGitRef(
        parseGitSource(`http://deploy:s3cr%40t-token@127.0.0.1:${port}/acme/api.git#main`),
        { tmpDir },
      ).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(GitSourceError);
      const { message, hint, stderr } = error as GitSourceError;
      for (const text of [message, hint, stderr]) expect(text).not.toContain('s3cr');
      expect(message).toContain(`http://deploy:***@127.0.0.1:${port}/acme/api.git#main`);
      expect(hint).toContain('check the repository URL');
      // Sent from the very first request (a password left in the URL waits for a 401).
      expect(requests[0]).toEqual({
        url: '/acme/api.git/info/refs?service=git-upload-pack',
        authorization: `Basic ${Buffer.from('deploy:s3cr@t-token').toString('base64')}`,
      });
    } finally {
      await new Promise((resolve) => forge.close(resolve));
    }
  });
});
