// An esbuild plugin for build.js's core script: each command module that src/cli/main.ts
// imports and core-commands.mjs does not list becomes a module that throws. main.ts imports a
// command only to run it, and compiled-entry.mjs runs those commands from the full script, so
// the core script never reaches one; the throw says so should that ever change.
import path from 'node:path';
import { CORE_COMMANDS } from './core-commands.mjs';

const COMMAND_MODULE = /^\.\/commands\/([a-z-]+)\.ts$/;

export const coreCommandsOnly = {
  name: 'core-commands-only',
  setup(build) {
    const kept = new Set();
    build.onResolve({ filter: COMMAND_MODULE }, (args) => {
      const name = COMMAND_MODULE.exec(args.path)?.[1];
      const fromMain =
        args.importer === path.join(build.initialOptions.absWorkingDir, 'src/cli/main.ts');
      if (!fromMain || name === undefined) return undefined;
      if (CORE_COMMANDS.includes(name)) {
        kept.add(name);
        return undefined;
      }
      return { path: name, namespace: 'not-in-core' };
    });
    // A listed command main.ts does not import as ./commands/<name>.ts would run from the
    // core script and find itself left out.
    build.onEnd(() => {
      const missing = CORE_COMMANDS.filter((name) => !kept.has(name));
      if (missing.length > 0)
        throw new Error(`core-commands.mjs lists commands main.ts does not import: ${missing}`);
    });
    build.onLoad({ filter: /.*/, namespace: 'not-in-core' }, (args) => ({
      contents: `throw new Error('flotilla ${args.path}: not in the core script (scripts/core-commands.mjs); the full script runs it');`,
      loader: 'js',
    }));
  },
};
