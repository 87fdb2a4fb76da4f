// Name → address entries for the services this node's services may reach, kept in a block
// of the hosts file that the agent owns; every other line is the machine owner's and is
// left as it was. Written in place, not renamed over: the file may be a bind mount (the
// lab's per-node /etc/hosts) and another program may hold it open.
import { readFile, writeFile } from 'node:fs/promises';

/** Where a node's resolver looks; in a lab node, `ip netns exec` binds that node's own copy here. */
export const SYSTEM_HOSTS_FILE = '/etc/hosts';

function markers(stack: string): { begin: string; end: string } {
  return {
    begin: `# BEGIN flotilla ${stack} (kept by the flotilla agent; edits here are overwritten)`,
    end: `# END flotilla ${stack}`,
  };
}

/** The file's text with the stack's block replaced (or appended, or removed when empty). */
export function withHostsBlock(
  text: string,
  stack: string,
  hosts: Readonly<Record<string, string>>,
): string {
  const { begin, end } = markers(stack);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const start = lines.indexOf(begin);
  const stop = start < 0 ? -1 : lines.indexOf(end, start);
  const kept = start < 0 || stop < 0 ? lines : [...lines.slice(0, start), ...lines.slice(stop + 1)];
  const entries = Object.entries(hosts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, address]) => `${address}\t${name} ${name}.${stack}.internal`);
  const block = entries.length === 0 ? [] : [begin, ...entries, end];
  return `${[...kept, ...block].join('\n')}\n`;
}

export async function updateHostsFile(
  file: string,
  stack: string,
  hosts: Readonly<Record<string, string>>,
): Promise<void> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const next = withHostsBlock(text, stack, hosts);
  if (next !== text) await writeFile(file, next);
}
