// The commands the compiled build's core script holds: the ones a person runs often and waits
// for, which read a stack file or ask the hub and need none of the daemon, hub, agent, SSH or
// mail code that makes up most of the full script. build.js builds flotilla-core.js with only
// these (any other command module left out); compiled-entry.mjs runs it for them and the full
// script, flotilla-full.js, for every other command. Copied beside both into dist/cli/.
export const CORE_COMMANDS = [
  'validate',
  'status',
  'plan',
  'schema',
  'logs',
  'releases',
  'history',
  'monitors',
];
