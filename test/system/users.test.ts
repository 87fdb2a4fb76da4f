// Service users come from /etc/passwd and /etc/group, read directly.
import { describe, expect, it } from 'vitest';
import { resolveUser, UnknownUserError } from '../../src/system/users.ts';

describe('resolveUser', () => {
  it('reads uid, primary gid and home from /etc/passwd', () => {
    expect(resolveUser('nobody')).toEqual({
      name: 'nobody',
      uid: 65534,
      gid: 65534,
      home: '/nonexistent',
    });
    expect(resolveUser('root')).toMatchObject({ uid: 0, gid: 0, home: '/root' });
  });

  it('takes the group of `user:group` from /etc/group', () => {
    expect(resolveUser('nobody:root')).toMatchObject({ uid: 65534, gid: 0 });
  });

  it('rejects unknown users and groups', () => {
    expect(() => resolveUser('no-such-user')).toThrow(UnknownUserError);
    expect(() => resolveUser('nobody:no-such-group')).toThrow(/no group "no-such-group"/);
  });
});
