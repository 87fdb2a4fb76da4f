// The systemd units Flotilla writes for its daemons (`flotilla-agent` by node setup,
// `flotilla-hub` by `flotilla hub --install-unit`). KillMode=process: services run in the
// daemon's cgroup, and a restart of the daemon (an upgrade) must leave them running for the
// next one to adopt; `flotilla down` stops them, not systemd.
export const UNIT_DIR = '/etc/systemd/system';

export interface DaemonUnit {
  description: string;
  /** Absolute program and its words, each a path of ours or a checked value. */
  execStart: string[];
  environment?: Record<string, string>;
}

/** A word systemd would take literally: no quoting, no `$`, `%` or whitespace to expand or split. */
const PLAIN_WORD = /^[\w./:@,=+-]+$/;

/** Refused (with the word) when a word would need systemd's quoting. */
export class UnitWordUnsafe extends Error {
  constructor(readonly word: string) {
    super(`cannot put ${JSON.stringify(word)} in a systemd unit`);
  }
}

export function daemonUnitText(unit: DaemonUnit): string {
  const environment = Object.entries(unit.environment ?? {}).map(
    ([name, value]) => `${name}=${value}`,
  );
  for (const word of [...unit.execStart, ...environment])
    if (!PLAIN_WORD.test(word)) throw new UnitWordUnsafe(word);
  return [
    '# Written by flotilla; running the same command again rewrites it.',
    '[Unit]',
    `Description=${unit.description}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `ExecStart=${unit.execStart.join(' ')}`,
    'Restart=always',
    'RestartSec=2',
    'KillMode=process',
    'Environment=NO_COLOR=1',
    ...environment.map((assignment) => `Environment=${assignment}`),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
