// Injected into the compiled build by build.js: CommonJS dependencies bundled into ES modules
// still find __dirname and __filename (ssh2 reads them as it loads), which then name the chunk
// in dist/cli/ that holds this module.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const __filename = fileURLToPath(import.meta.url);
export const __dirname = path.dirname(__filename);
