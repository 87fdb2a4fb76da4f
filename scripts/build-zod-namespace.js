// An esbuild plugin for build.js: `import { z } from 'zod'` read as `import * as z from 'zod'`.
// Both name the same functions, but zod's `z` is a namespace that its index re-exports, and
// esbuild keeps every export of a namespace it meets that way: each command that validates
// anything compiled all of zod (its 60 locales, JSON Schema conversion…), 0.75 MB of the
// 1.8 MB `flotilla validate` loads. Imported as a namespace, only what is used is bundled.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const NAMED_Z = /^import \{ z \} from 'zod';$/gm;

export const zodNamespace = {
  name: 'zod-namespace',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await readFile(args.path, 'utf8');
      return { contents: text.replace(NAMED_Z, "import * as z from 'zod';"), loader: 'ts' };
    });
  },
};
