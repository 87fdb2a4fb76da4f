#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a clone works with `npx flotilla`
// right after `npm install`, with no build step to forget.
import { register } from 'tsx/esm/api';

register();
// `flotilla status | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
