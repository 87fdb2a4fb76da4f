// bench/stack-file-keys: the cost of finding duplicate keys in a stack file with many keys
// (issue 10: 40k keys took 11.7 s with yaml's own check, 0.47 s without it). Compares, in
// the same run and on the same text (one service with N env keys):
//   none   yaml parse + toJS, no duplicate check: the floor
//   ours   parseSource (src/spec/source.ts): the same, plus our one-pass duplicate check
//   yaml   yaml parse with `uniqueKeys: true` + toJS: the check we replaced (quadratic)
// and prints ours/none and yaml/none. Goal: ours within 1.2× of none.
//
//   node_modules/.bin/tsx bench/stack-file-keys.ts               # 40000 keys
//   node_modules/.bin/tsx bench/stack-file-keys.ts 10000 40000   # other sizes
//   SKIP_YAML_CHECK=1 node_modules/.bin/tsx bench/stack-file-keys.ts 100000
import { LineCounter, parseDocument } from 'yaml';
import { parseSource } from '../src/spec/source.ts';
import { fmt, median, ratio, table } from './lib/stats.ts';

const GOAL = 1.2;
const RUNS = 7;

function stackWithKeys(keys: number): string {
  const lines = ['name: keys\nservices:\n  api:\n    run: { command: [api] }\n    env:\n'];
  for (let index = 0; index < keys; index++) lines.push(`      KEY_${index}: value-${index}\n`);
  return lines.join('');
}

function once(work: () => void): number {
  const start = performance.now();
  work();
  return performance.now() - start;
}

/** Median ms of each of `works`, run in turn `runs` times after a warm-up (drift hits all alike). */
function interleaved(runs: number, works: (() => void)[]): number[] {
  for (const work of works) work();
  const times = works.map((): number[] => []);
  for (let run = 0; run < runs; run++)
    works.forEach((work, index) => times[index]!.push(once(work)));
  return times.map(median);
}

function parseWith(text: string, uniqueKeys: boolean): void {
  const document = parseDocument(text, { lineCounter: new LineCounter(), uniqueKeys });
  if (document.errors.length > 0) throw new Error(document.errors[0]!.message);
  document.toJS({ maxAliasCount: 100 });
}

const sizes = process.argv.slice(2).map(Number);
const rows = [['keys', 'KiB', 'none ms', 'ours ms', 'yaml ms', 'ours/none', 'yaml/none']];
let missed = false;
for (const keys of sizes.length > 0 ? sizes : [40_000]) {
  const text = stackWithKeys(keys);
  const [none, ours] = interleaved(RUNS, [
    () => parseWith(text, false),
    () => {
      if (parseSource(text, 'flotilla.yml').syntaxErrors.length > 0) throw new Error('rejected');
    },
  ]) as [number, number];
  // One run: at 40k keys it takes seconds, and it only grows.
  const yaml = process.env.SKIP_YAML_CHECK === undefined ? once(() => parseWith(text, true)) : NaN;
  if (ours / none > GOAL) missed = true;
  rows.push([
    String(keys),
    String(Math.round(text.length / 1024)),
    fmt(none),
    fmt(ours),
    fmt(yaml),
    ratio(ours, none),
    ratio(yaml, none),
  ]);
}
console.log(`medians of ${RUNS} runs after a warm-up (yaml: one run); Node ${process.version}\n`);
console.log(table(rows));
console.log(`\n${missed ? 'FAIL' : 'ok'}: ours/none ${missed ? 'above' : 'within'} ${GOAL}×`);
