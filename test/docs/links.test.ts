// Every relative link in README.md and docs/**/*.md leads somewhere: a file that exists and,
// when the link names an anchor, a heading or `<a id>` of that file. Docs move and get
// renamed; a reader following a dead link learns nothing.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return markdownFiles(full);
      return entry.name.endsWith('.md') ? [full] : [];
    })
    .sort();
}

/** The text outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchor: lowercase, punctuation dropped, spaces as hyphens. */
function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutFences.matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = slugOf(match[1]!);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  for (const match of text.matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(match[1]!);
  return anchors;
}

/** Relative links of one file: [text](target) and [text]: target, minus URLs. */
function linksOf(file: string): string[] {
  const text = prose(readFileSync(file, 'utf8'));
  const targets = [
    ...[...text.matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)].map((match) => match[1]!),
    ...[...text.matchAll(/^\[[^\]]+\]: +(\S+)/gm)].map((match) => match[1]!),
  ];
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

const files = [path.join(root, 'README.md'), ...markdownFiles(path.join(root, 'docs'))];

describe('relative links in README.md and docs/', () => {
  it.each(files.map((file) => path.relative(root, file)))(
    '%s links only to what exists',
    (name) => {
      const file = path.join(root, name);
      const broken: string[] = [];
      for (const link of linksOf(file)) {
        const [target = '', anchor] = link.split('#');
        const dest = target === '' ? file : path.resolve(path.dirname(file), decodeURI(target));
        if (!existsSync(dest)) broken.push(`${link}: no file ${path.relative(root, dest)}`);
        else if (anchor && dest.endsWith('.md') && !anchorsOf(dest).has(decodeURI(anchor)))
          broken.push(`${link}: no heading or <a id> "${anchor}" in ${path.relative(root, dest)}`);
      }
      expect(broken, `broken links in ${name}`).toEqual([]);
    },
  );

  it('finds the links it checks (a reference with section anchors)', () => {
    const reference = path.join(root, 'docs/reference.md');
    expect(linksOf(reference)).toContain('#services-name-health-http');
    expect(anchorsOf(reference).has('services-name-health-http')).toBe(true);
    expect(slugOf('Restore drills: `backup verify`')).toBe('restore-drills-backup-verify');
  });
});
