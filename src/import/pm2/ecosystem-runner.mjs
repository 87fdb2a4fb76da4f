// Evaluates a PM2 ecosystem file for `flotilla import pm2` and writes what it exports as
// JSON to file descriptor 3 (stdout stays the file's own, for its console.log). Started
// by load-ecosystem.ts in a child process with Node's permission model: it may read
// files (its requires), but not write any, start processes or workers, and it gets an
// empty environment. A value the file read from that environment is `undefined`:
// written as {"$undefined": true}, so the importer can say which values came from there.
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const loaded = await import(pathToFileURL(process.argv[2]).href);
const config = loaded.default ?? loaded;
const json = JSON.stringify(config, (_key, value) => {
  if (value === undefined) return { $undefined: true };
  if (typeof value === 'function') return { $function: true };
  return value;
});
writeSync(3, json ?? 'null');
