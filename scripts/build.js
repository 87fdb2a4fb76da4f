// The compiled build (`npm run build`, run by scripts/install.sh): the CLI, daemon and hub as
// plain JavaScript in dist/cli/, so an installed Flotilla starts without tsx compiling its
// sources on every run. bin/flotilla.js runs it when it is newer than every source file.
// The layout keeps each file where src/ code expects its neighbours: flotilla.mjs sits two
// levels below the root like src/cli/*.ts (detached-daemon.ts finds bin/flotilla.js by
// ../../), with the scripts it runs, load-worker.mjs and ecosystem-runner.mjs beside it
// (new URL('./…')). flotilla.mjs is scripts/compiled-entry.mjs: it runs flotilla-core.js or
// flotilla-full.js, with the code cache scripts/train-code-cache.js saves at the end.
import { execFile } from 'node:child_process';
import { build } from 'esbuild';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { coreCommandsOnly } from './build-core-commands.js';
import { zodNamespace } from './build-zod-namespace.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
// `--outdir DIR`: a build elsewhere (the compiled-build test runs one in a temp copy).
if (args.length > 0 && !(args.length === 2 && args[0] === '--outdir')) {
  console.error('usage: node scripts/build.js [--outdir DIR]');
  process.exit(2);
}
const dist = path.resolve(args[1] ?? path.join(root, 'dist'));
// Built beside dist/ and swapped in whole: a failed build leaves the previous one intact.
const staging = `${dist}.building`;

await rm(staging, { recursive: true, force: true });
const common = {
  absWorkingDir: root,
  outdir: staging,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // ssh2's optional native parts, which it loads in try/catch: left out, so the pure-JS
  // fallback runs, as it must in an installed release (dist/ only, no node_modules).
  external: ['*/sshcrypto.node', '*/cpufeatures.node'],
  plugins: [zodNamespace],
  // Less to read and decode at each start (5 MB to 3 MB). Names are kept: a stack trace that
  // FLOTILLA_DEBUG=1 prints still says which function failed.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};
// The CLI, daemon and hub: CommonJS modules, which (unlike ES modules on Node 20) can be
// compiled with a code cache. Dependencies are bundled too: resolving and compiling hundreds
// of small files from node_modules was most of a command's start. A command's lazily
// imported module is still evaluated only when that command runs. Each file holds its module
// already inside CommonJS's wrapper, so compiled-entry.mjs compiles it as it is read. Strict,
// as the ES modules it is made of are; import.meta.url names the file, beside the others.
// Two of them: the full script, and the core one without the commands core-commands.mjs
// leaves out (the daemon, hub, agent, SSH and mail code), a quarter of its size to read.
for (const [kind, plugins] of [
  ['full', []],
  ['core', [coreCommandsOnly]],
]) {
  await build({
    ...common,
    entryPoints: { [`cli/flotilla-${kind}`]: 'src/cli/main.ts' },
    format: 'cjs',
    plugins: [...common.plugins, ...plugins],
    define: { 'import.meta.url': '__flotilla_import_meta_url' },
    banner: {
      js: "(function (exports, require, module, __filename, __dirname) { 'use strict'; const __flotilla_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
    },
    footer: { js: '})' },
  });
}
// The hub's loader thread (spec/load-off-thread.ts starts it by this name). CommonJS
// dependencies bundled into an ES module require Node's built-ins through a require of its
// own, and read __dirname, which an ES module has only when injected.
await build({
  ...common,
  entryPoints: { 'cli/load-worker': 'src/spec/load-worker-loop.ts' },
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  inject: ['scripts/build-cjs-paths.js'],
});
await mkdir(path.join(staging, 'cli'), { recursive: true });
await copyFile(
  path.join(root, 'scripts/compiled-entry.mjs'),
  path.join(staging, 'cli/flotilla.mjs'),
);
await copyFile(
  path.join(root, 'scripts/core-commands.mjs'),
  path.join(staging, 'cli/core-commands.mjs'),
);
await copyFile(
  path.join(root, 'src/import/pm2/ecosystem-runner.mjs'),
  path.join(staging, 'cli/ecosystem-runner.mjs'),
);
await promisify(execFile)(process.execPath, [
  path.join(root, 'scripts/train-code-cache.js'),
  path.join(staging, 'cli/flotilla.mjs'),
  path.join(root, 'examples/quickstart/flotilla.yml'),
]);
await rm(dist, { recursive: true, force: true });
await rename(staging, dist);
