// Resolves the system user a service runs as, straight from /etc/passwd and /etc/group: no
// shell, no `id` command. (Users from LDAP/NSS modules are not seen; service users on a
// VPS are local system users.)
import { readFileSync } from 'node:fs';

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export class UnknownUserError extends Error {}

/** The fields of the `name` entry in a colon-separated database such as /etc/passwd. */
function lookup(file: string, name: string): string[] | undefined {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields.length >= 3) return fields;
  }
  return undefined;
}

/** `user` or `user:group` (the group replaces the user's primary group). */
export function resolveUser(spec: string): SystemUser {
  const [name = '', group] = spec.split(':', 2);
  const entry = lookup('/etc/passwd', name);
  if (entry === undefined) throw new UnknownUserError(`no user "${name}" in /etc/passwd`);
  let gid = Number(entry[3]);
  if (group !== undefined) {
    const groupEntry = lookup('/etc/group', group);
    if (groupEntry === undefined) throw new UnknownUserError(`no group "${group}" in /etc/group`);
    gid = Number(groupEntry[2]);
  }
  return { name, uid: Number(entry[2]), gid, home: entry[5] ?? '/' };
}
