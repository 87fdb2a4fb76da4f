// The agent's block in the hosts file: replaced as a whole, everything else untouched.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { updateHostsFile, withHostsBlock } from '../../src/agent/hosts-file.ts';

const OWNER = '127.0.0.1\tlocalhost\n203.0.113.5\tbackup-box\n';

describe('the hosts block', () => {
  it('appends the block once, sorted, with a stack-qualified alias', () => {
    const text = withHostsBlock(OWNER, 'salem', { redis: '127.0.0.1', db: '100.96.0.3' });
    expect(text).toBe(
      `${OWNER}# BEGIN flotilla salem (kept by the flotilla agent; edits here are overwritten)\n` +
        '100.96.0.3\tdb db.salem.internal\n127.0.0.1\tredis redis.salem.internal\n# END flotilla salem\n',
    );
    expect(withHostsBlock(text, 'salem', { redis: '127.0.0.1', db: '100.96.0.3' })).toBe(text);
  });

  it("replaces its own block, keeps the owner's lines and another stack's block", () => {
    const two = withHostsBlock(withHostsBlock(OWNER, 'a', { x: '100.96.0.1' }), 'b', {
      y: '1.2.3.4',
    });
    const moved = withHostsBlock(two, 'a', { x: '100.96.0.9' });
    expect(moved).toContain('100.96.0.9\tx x.a.internal');
    expect(moved).not.toContain('100.96.0.1');
    expect(moved).toContain('1.2.3.4\ty y.b.internal');
    expect(moved.startsWith(OWNER)).toBe(true);
    expect(withHostsBlock(withHostsBlock(moved, 'a', {}), 'b', {})).toBe(OWNER);
  });

  it('writes the file in place only when it changes', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'flotilla-hosts-'));
    try {
      const file = path.join(dir, 'hosts');
      await writeFile(file, OWNER);
      await updateHostsFile(file, 'salem', { db: '100.96.0.3' });
      expect(await readFile(file, 'utf8')).toContain('100.96.0.3\tdb db.salem.internal');
      await updateHostsFile(file, 'salem', {});
      expect(await readFile(file, 'utf8')).toBe(OWNER);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
