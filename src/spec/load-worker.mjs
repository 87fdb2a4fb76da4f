// The loader thread's entry when running from source: a worker thread does not inherit the
// TypeScript hooks bin/flotilla.js registered (nor vitest's), so it registers tsx itself
// before loading the body. The compiled build has its own load-worker.mjs (scripts/build.js).
import { register } from 'tsx/esm/api';

register();
await import('./load-worker-loop.ts');
