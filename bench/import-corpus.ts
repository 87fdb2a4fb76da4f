// bench/import-corpus: `flotilla import compose` over every Compose file under a directory
// (docker-compose.yml, docker-compose.*.yml, compose.yaml, compose.*.yml, …), e.g. a clone
// of a public collection of self-hosting stacks. Prints how many imported, how many failed
// with a clear message (a malformed file, a stack the loader refuses: an ImportError),
// how many crashed (anything else: a bug; the goal is 0), the most common failure reasons,
// and files per second.
//
//   node_modules/.bin/tsx bench/import-corpus.ts test/import/corpus
//   node_modules/.bin/tsx bench/import-corpus.ts ~/src/awesome-compose --verbose
//
// Each file is imported as `flotilla import compose FILE -o <its dir>/flotilla.yml` would
// (nothing is written), with an empty environment: only the .env beside it counts, so
// the figures do not depend on the shell. Exit status 1 when anything crashed.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { importCompose } from '../src/import/compose/import-compose.ts';
import { ImportError, ImportProblems } from '../src/import/errors.ts';
import { fmt, median, table } from './lib/stats.ts';

const COMPOSE_FILE = /^(docker-)?compose([.-][\w.-]*)?\.ya?ml$/i;
const SKIPPED_DIRS = new Set(['node_modules', '.git']);

type Outcome =
  | { kind: 'imported'; file: string; ms: number; services: number; notes: number }
  | { kind: 'failed'; file: string; ms: number; reason: string }
  | { kind: 'crashed'; file: string; ms: number; error: string };

async function composeFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name)) pending.push(full);
      else if (entry.isFile() && COMPOSE_FILE.test(entry.name)) found.push(full);
    }
  }
  return found.sort();
}

/** The first problem's message, as the user reads it. */
function failureReason(error: ImportError | ImportProblems): string {
  const first = error instanceof ImportProblems ? error.problems[0]! : error;
  return first.message;
}

/** A reason with its names and numbers blanked, so the same problem counts once. */
function reasonKind(reason: string): string {
  return reason
    .replace(/\((services|networks)\.[^)]*\)/g, '($1.…)')
    .replace(/`[^`]*`/g, '`…`')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\/\S+/g, '…')
    .replace(/\d+/g, 'N')
    .slice(0, 110);
}

async function importOne(file: string): Promise<Outcome> {
  const start = performance.now();
  try {
    const result = await importCompose({
      file,
      output: path.join(path.dirname(file), 'flotilla.yml'),
      environment: {},
    });
    const ms = performance.now() - start;
    const services = Object.keys(result.stack.services).length;
    return { kind: 'imported', file, ms, services, notes: result.report.notes.length };
  } catch (error) {
    const ms = performance.now() - start;
    if (error instanceof ImportError || error instanceof ImportProblems)
      return { kind: 'failed', file, ms, reason: failureReason(error) };
    return {
      kind: 'crashed',
      file,
      ms,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
  }
}

async function main(): Promise<number> {
  const [dir, ...flags] = process.argv.slice(2);
  if (dir === undefined || flags.some((flag) => flag !== '--verbose')) {
    console.error('usage: tsx bench/import-corpus.ts <dir> [--verbose]');
    return 2;
  }
  const verbose = flags.includes('--verbose');
  const files = await composeFiles(dir);
  if (files.length === 0) {
    console.error(`no Compose files under ${dir}`);
    return 2;
  }
  const started = performance.now();
  const outcomes: Outcome[] = [];
  for (const file of files) {
    const outcome = await importOne(file);
    outcomes.push(outcome);
    const name = path.relative(dir, file);
    if (outcome.kind === 'crashed') console.log(`CRASH     ${name}\n${outcome.error}`);
    else if (!verbose) continue;
    else if (outcome.kind === 'failed') console.log(`failed    ${name}: ${outcome.reason}`);
    else console.log(`imported  ${name}: ${outcome.services} services, ${outcome.notes} notes`);
  }
  const seconds = (performance.now() - started) / 1000;
  const count = (kind: Outcome['kind']) =>
    outcomes.filter((outcome) => outcome.kind === kind).length;
  const reasons = new Map<string, number>();
  for (const outcome of outcomes)
    if (outcome.kind === 'failed')
      reasons.set(reasonKind(outcome.reason), (reasons.get(reasonKind(outcome.reason)) ?? 0) + 1);
  console.log('');
  console.log(
    table([
      ['files', 'imported', 'failed (clear message)', 'crashed', 'files/s', 'median ms/file'],
      [
        String(files.length),
        String(count('imported')),
        String(count('failed')),
        String(count('crashed')),
        fmt(files.length / seconds),
        fmt(median(outcomes.map((outcome) => outcome.ms))),
      ],
    ]),
  );
  if (reasons.size > 0) {
    console.log('\nfailures by reason:');
    for (const [reason, times] of [...reasons].sort((a, b) => b[1] - a[1]))
      console.log(`  ${String(times).padStart(4)}  ${reason}`);
  }
  console.log(`\nGoal (0 crashed): ${count('crashed') === 0 ? 'PASS' : 'FAIL'}`);
  return count('crashed') === 0 ? 0 : 1;
}

process.exitCode = await main();
