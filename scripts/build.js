// The compiled build (`npm run build`, run by scripts/install.sh): the CLI, daemon and hub as
// plain JavaScript in dist/cli/, so an installed Flotilla starts without tsx compiling its
// sources on every run. bin/flotilla.js runs it when it is newer than every source file.
// The layout keeps each file where src/ code expects its neighbours: flotilla.mjs sits two
// levels below the root like src/cli/*.ts (detached-daemon.ts finds bin/flotilla.js by
// ../../), with load-worker.mjs and ecosystem-runner.mjs beside it (new URL('./…')).
import { build } from 'esbuild';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
await build({
  absWorkingDir: root,
  entryPoints: {
    'cli/flotilla': 'src/cli/main.ts',
    'cli/load-worker': 'src/spec/load-worker-loop.ts',
  },
  outdir: staging,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // Shared code and each command's lazily imported module go to chunks, so a command still
  // loads only what it uses. Chunks sit beside flotilla.mjs: code that finds a neighbour by
  // import.meta.url may end up in any of them.
  splitting: true,
  chunkNames: 'cli/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies are bundled too: resolving and compiling hundreds of small ESM and CommonJS
  // files from node_modules was most of a command's start. CommonJS ones require Node's
  // built-ins, which an ES module can only do through a require of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  // ssh2's optional native parts, which it loads in try/catch: left out, so the pure-JS
  // fallback runs, as it must in an installed release (dist/ only, no node_modules). Its
  // CommonJS code reads __dirname, which an ES module has only when injected.
  external: ['*/sshcrypto.node', '*/cpufeatures.node'],
  inject: ['scripts/build-cjs-paths.js'],
  logLevel: 'warning',
});
await mkdir(path.join(staging, 'cli'), { recursive: true });
await copyFile(
  path.join(root, 'src/import/pm2/ecosystem-runner.mjs'),
  path.join(staging, 'cli/ecosystem-runner.mjs'),
);
await rm(dist, { recursive: true, force: true });
await rename(staging, dist);
