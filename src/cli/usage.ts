// Bad usage of a command: a UsageError (message and hint) that main.ts prints with the
// command's usage and exit 2. Every command declares the words it takes after its name
// (per verb when it has verbs), and main checks them before the command runs: an extra word
// is refused, never ignored. `secrets set NAME value` once ignored `value`, which by then
// was a secret in `ps` and the shell history.
import { canonicalIp } from '../spec/formats.ts';
import { didYouMean } from '../spec/suggest.ts';

export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Words after the command (or verb): `NAME` required, `[NAME]` optional, `NAME...` the rest. */
export type Words = readonly string[];

export interface VerbWords {
  words: Words;
  /** An extra word here is likely a secret: it is not repeated, and this hint says what to do. */
  secretExtra?: string;
}

/** Verbs, each with its words or verbs of its own (`dashboard user add NAME`). */
export interface Verbs {
  verbs: Readonly<Record<string, Words | VerbWords | Verbs>>;
}

export type Positionals = Words | Verbs;

/** Throws a UsageError unless `given` fits `spec`; `command` names it in the hint. */
export function checkPositionals(command: string, spec: Positionals, given: readonly string[]) {
  if (!('verbs' in spec)) return checkWords(`flotilla ${command}`, { words: spec }, given);
  const [verb, ...rest] = given;
  const verbs = Object.keys(spec.verbs);
  const list =
    verbs.length === 1 ? verbs[0]! : `${verbs.slice(0, -1).join(', ')} or ${verbs.at(-1)}`;
  if (verb === undefined) throw new UsageError(`missing what to do: ${list}`);
  if (!Object.hasOwn(spec.verbs, verb))
    throw new UsageError(
      `unknown verb "${verb}"`,
      didYouMean(verb, verbs) ?? `\`flotilla ${command}\` does ${list}`,
    );
  const words = spec.verbs[verb]!;
  if ('verbs' in words) return checkPositionals(`${command} ${verb}`, words, rest);
  checkWords(`flotilla ${command} ${verb}`, 'words' in words ? words : { words }, rest);
}

function checkWords(usage: string, { words, secretExtra }: VerbWords, given: readonly string[]) {
  const required = words.filter((word) => !word.startsWith('['));
  const missing = required[given.length];
  if (missing !== undefined) throw new UsageError(`missing ${missing.replace(/\.\.\.$/, '')}`);
  const variadic = words.at(-1)?.endsWith('...') ?? false;
  if (variadic || given.length <= words.length) return;
  const extra = given[words.length]!;
  if (secretExtra !== undefined)
    throw new UsageError(`unexpected argument after ${words.join(' ')}`, secretExtra);
  throw new UsageError(
    `unexpected argument "${extra}"`,
    `\`${usage}\` takes ${words.length === 0 ? 'no arguments' : `only ${words.join(' ')}`}: quote a value that has spaces, and start options with -`,
  );
}

/** `--address`: a node's public IP address, in the canonical form peers and rulesets use. */
export function checkAddressOption(address: string | undefined): void {
  if (address === undefined) return;
  const canonical = canonicalIp(address);
  if (canonical === address) return;
  throw new UsageError(
    `--address must be an IP address, not "${address}"`,
    canonical === undefined
      ? 'give the public IPv4 or IPv6 address peers reach this node at'
      : `write ${canonical}`,
  );
}
