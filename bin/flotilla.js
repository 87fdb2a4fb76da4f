#!/usr/bin/env node
// The `flotilla` command. Runs the compiled build (dist/cli/, scripts/build.js, made by
// scripts/install.sh) when there is one that is newer than every source file: it starts
// several times faster than compiling the sources with tsx. Otherwise, and always when
// FLOTILLA_FROM_SOURCE=1 (the test suite), it runs the TypeScript sources through tsx, so a
// clone works right after `npm install` and a source edit is never hidden by an old build.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = `${root}dist/cli/flotilla.mjs`;

/** Newest modification time of any file under dir, 0 when it does not exist. */
function newestMtime(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    // parentPath is Node ≥ 20.12's name for path.
    const parent = entry.parentPath ?? entry.path;
    newest = Math.max(newest, statSync(`${parent}/${entry.name}`).mtimeMs);
  }
  return newest;
}

function compiledBuild() {
  let built;
  try {
    built = statSync(compiled).mtimeMs;
  } catch {
    return undefined;
  }
  // An installed release (`flotilla node add`) has no sources to run, whatever the env says.
  let hasSources = true;
  try {
    statSync(`${root}src`);
  } catch {
    hasSources = false;
  }
  if (!hasSources) return pathToFileURL(compiled).href;
  if (process.env.FLOTILLA_FROM_SOURCE === '1') return undefined;
  if (newestMtime(`${root}src`) <= built) return pathToFileURL(compiled).href;
  process.stderr.write(
    'flotilla: src/ changed since the compiled build; running from source (npm run build to update it)\n',
  );
  return undefined;
}

// `flotilla status | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const entry = compiledBuild();
if (entry === undefined) (await import('tsx/esm/api')).register();
const { main } = await import(entry ?? '../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
