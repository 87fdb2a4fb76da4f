// Where `node add` logs in: `user@host[:port]` as the operator types it, IPv6 in brackets
// when a port follows (`root@[2001:db8::1]:2222`). The user defaults to root, the port to 22.
import { isIP, isIPv6 } from 'node:net';
import { SshError } from './ssh-error.ts';

export interface SshTarget {
  user: string;
  /** A host name or an IP address; IPv6 without brackets. */
  host: string;
  port: number;
}

/** A value that is no `user@host[:port]`. */
export class BadSshTarget extends SshError {}

const FORMS =
  'use user@host, user@host:port or host (e.g. root@203.0.113.20, root@[2001:db8::1]:2222)';
// POSIX-ish login names; no leading '-', which a server-side tool could read as an option.
const USER = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function bad(text: string, why: string): BadSshTarget {
  return new BadSshTarget(`invalid SSH target ${JSON.stringify(text)}: ${why}`, FORMS);
}

function parsePort(text: string, portText: string): number {
  if (!/^\d{1,5}$/.test(portText)) throw bad(text, `port ${JSON.stringify(portText)} is no number`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw bad(text, `port ${port} is outside 1-65535`);
  return port;
}

/** Parses `user@host`, `user@host:port`, `host`, `[v6]:port`, `user@[v6]:port` or a bare v6. */
export function parseSshTarget(text: string): SshTarget {
  const at = text.lastIndexOf('@');
  const user = at < 0 ? 'root' : text.slice(0, at);
  const rest = at < 0 ? text : text.slice(at + 1);
  if (!USER.test(user)) throw bad(text, `${JSON.stringify(user)} is no user name`);
  let host: string;
  let port = 22;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw bad(text, 'a "[" without its "]"');
    host = rest.slice(1, close);
    if (!isIPv6(host)) throw bad(text, `${JSON.stringify(host)} in brackets is no IPv6 address`);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw bad(text, `unexpected ${JSON.stringify(after)} after "]"`);
      port = parsePort(text, after.slice(1));
    }
  } else if (isIPv6(rest)) {
    host = rest;
  } else {
    const colon = rest.indexOf(':');
    host = colon < 0 ? rest : rest.slice(0, colon);
    if (colon >= 0) port = parsePort(text, rest.slice(colon + 1));
    if (host === '') throw bad(text, 'no host');
    if (isIP(host) === 0 && !HOST_NAME.test(host))
      throw bad(text, `${JSON.stringify(host)} is no host name or IP address`);
  }
  return { user, host: host.toLowerCase(), port };
}

/** The target as `parseSshTarget` reads it back: `user@host`, with `:port` when not 22. */
export function formatSshTarget(target: SshTarget): string {
  const host = isIPv6(target.host) ? `[${target.host}]` : target.host;
  if (target.port === 22) return `${target.user}@${isIPv6(target.host) ? target.host : host}`;
  return `${target.user}@${host}:${target.port}`;
}
