// /etc/os-release as servers write it: quoted, single-quoted, escaped and bare values.
import { describe, expect, it } from 'vitest';
import { parseOsRelease } from '../../src/node/server-probe.ts';

describe('parseOsRelease', () => {
  it('reads Debian and Ubuntu files', () => {
    const debian = parseOsRelease(
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    );
    expect(debian).toMatchObject({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
      VERSION_ID: '12',
      ID: 'debian',
    });
    const ubuntu = parseOsRelease("ID=ubuntu\nID_LIKE=debian\nPRETTY_NAME='Ubuntu 24.04 LTS'\n");
    expect(ubuntu).toMatchObject({
      ID: 'ubuntu',
      ID_LIKE: 'debian',
      PRETTY_NAME: 'Ubuntu 24.04 LTS',
    });
  });

  it('unescapes quoted values and skips comments and junk', () => {
    const fields = parseOsRelease(
      '# comment\nNAME="A \\"quoted\\" name"\nnot a field\n\nID=alpine\n',
    );
    expect(fields).toEqual({ NAME: 'A "quoted" name', ID: 'alpine' });
  });
});
