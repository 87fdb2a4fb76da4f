// Run by build.js on a fresh build: for each of the compiled scripts, the commands a person
// runs most (help, validate, status) once each in this one process, then the code cache of
// all they compiled saved beside it (scripts/compiled-entry.mjs says why). Their output goes
// nowhere; status finds no stack running in an empty state dir. A command that throws fails
// the build: the compiled CLI would be broken.
//
//   node scripts/train-code-cache.js DIST/cli/flotilla.mjs STACK_FILE
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [entry, stackFile] = process.argv.slice(2);
if (entry === undefined || stackFile === undefined) {
  console.error('usage: node scripts/train-code-cache.js DIST/cli/flotilla.mjs STACK_FILE');
  process.exit(2);
}
const stateDir = await mkdtemp(path.join(tmpdir(), 'flotilla-train-'));
process.env.FLOTILLA_STATE_DIR = stateDir;
try {
  const { loadScript } = await import(pathToFileURL(entry).href);
  // Full first: the core script runs with zod's jitless setting (compiled-entry.mjs), which,
  // set here as main() sets it, would otherwise hold for the full script's zod as well.
  for (const kind of ['full', 'core']) {
    if (kind === 'core') globalThis.__zod_globalConfig = { jitless: true };
    const { main, saveCodeCache } = loadScript(kind);
    for (const argv of [['--help'], ['validate', '-f', stackFile], ['status', '-f', stackFile]])
      await main(argv);
    saveCodeCache();
  }
} finally {
  await rm(stateDir, { recursive: true, force: true });
}
