// The compiled build's entry, copied by build.js to dist/cli/flotilla.mjs (what bin/flotilla.js
// imports). It runs one of two CommonJS scripts build.js makes of the CLI, daemon and hub:
// flotilla-core.js, which holds only the commands of core-commands.mjs (a quarter of the code),
// for those, and flotilla-full.js for the others. Each runs with V8's code cache of it: Node 20
// keeps no compiled code between runs for ES modules (Node 22's module.enableCompileCache
// does), so each start parsed and compiled every function it ran again, the larger part of a
// short command. A script compiled through vm.Script can take the bytecode that build.js saved
// after running the common commands once (`<script>.cache`). A cache that does not fit
// (another Node, other V8 flags) is refused by V8 and the source compiled as usual, so it only
// ever costs time.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { CORE_COMMANDS } from './core-commands.mjs';

function readCache(file) {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Runs the script `kind` ('core' or 'full') and returns what it exports, with a way to save
 * the code of every function compiled so far as its cache (scripts/train-code-cache.js).
 */
export function loadScript(kind) {
  const file = fileURLToPath(new URL(`./flotilla-${kind}.js`, import.meta.url));
  const cacheFile = `${file}.cache`;
  // The file is the module inside CommonJS's wrapper (build.js): a function of require,
  // module, __dirname… (Read, then decoded: readFileSync(file, 'utf8') takes twice as long.)
  const script = new vm.Script(readFileSync(file).toString(), {
    filename: file,
    cachedData: readCache(cacheFile),
    // No import() of a computed name is bundled today; should one be, it resolves as Node would.
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const compiled = { exports: {} };
  script.runInThisContext()(
    compiled.exports,
    createRequire(file),
    compiled,
    file,
    path.dirname(file),
  );
  return {
    /** @type {(argv: string[]) => Promise<number>} */
    main: compiled.exports.main,
    saveCodeCache: () => writeFileSync(cacheFile, script.createCachedData()),
  };
}

/** `flotilla argv…`, from the core script when it holds the command. */
export function main(argv) {
  if (!CORE_COMMANDS.includes(argv[0])) return loadScript('full').main(argv);
  // zod without the parsers it compiles with new Function on first use (its config shared
  // through this global, read as the schemas are made): they pay off in a long-running
  // daemon, hub or agent, while a command that parses one stack file and exits spent more
  // compiling them than they saved. The same checks and results either way.
  globalThis.__zod_globalConfig = { ...globalThis.__zod_globalConfig, jitless: true };
  return loadScript('core').main(argv);
}
