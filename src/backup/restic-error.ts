// What restic's stderr means, in one line and a hint. restic 0.14 exits 1 for every fatal
// error, so the text is all there is to tell a missing repository (initialise it) from a
// wrong password or an unreachable endpoint (never initialise: report).
import { BackupError } from './backup-error.ts';
import { lastLine } from './child.ts';

export type ResticFailure =
  'missing' | 'wrong-password' | 'unreachable' | 'tls' | 'credentials' | 'locked' | 'other';

export class ResticError extends BackupError {
  constructor(
    readonly failure: ResticFailure,
    message: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

interface Rule {
  test: RegExp;
  failure: ResticFailure;
  message: string;
  hint: string;
}

// Order matters: "unable to open config file" also prefixes unreachable endpoints.
const RULES: Rule[] = [
  {
    test: /^restic is not installed/m,
    failure: 'other',
    message: 'restic is not installed',
    hint: 'install it: scripts/install-system-deps.sh (Debian package restic)',
  },
  {
    test: /wrong password or no key found/,
    failure: 'wrong-password',
    message: 'wrong password for the repository',
    hint: "the target's password is not the one the repository was created with: check the secret it names",
  },
  {
    test: /connection refused|no such host|i\/o timeout|network is unreachable|no route to host/,
    failure: 'unreachable',
    message: 'cannot reach the repository',
    hint: "check the target's repository URL (host and port) and that the endpoint is up",
  },
  {
    test: /x509:|certificate/,
    failure: 'tls',
    message: "the repository endpoint's TLS certificate is not trusted",
    hint: "for a self-hosted endpoint, set the target's `cacert` to the PEM file of its CA",
  },
  {
    test: /Connection closed by foreign host|malformed HTTP response|server gave HTTP response to HTTPS/,
    failure: 'unreachable',
    message: 'the repository endpoint does not speak the expected protocol',
    hint: 'check http:// versus https:// in the repository URL',
  },
  {
    test: /InvalidAccessKeyId|SignatureDoesNotMatch|Access Denied|AccessDenied|Forbidden/,
    failure: 'credentials',
    message: 'the S3 endpoint refused the credentials',
    hint: "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the target's env",
  },
  {
    test: /repository is already locked/,
    failure: 'locked',
    message: 'the repository is locked by another restic process',
    hint: 'wait for it to finish; a lock left by a crashed process goes with `restic unlock`',
  },
  {
    test: /unable to open config file: .*(no such file or directory|key does not exist|NoSuchKey|bucket does not exist)/,
    failure: 'missing',
    message: 'no restic repository at this location yet',
    hint: 'it is created on the first backup',
  },
  {
    test: /invalid backend|unable to parse|parsing repository location failed/,
    failure: 'other',
    message: 'restic does not understand the repository URL',
    hint: 'write s3:https://host/bucket/path or a local path',
  },
];

/** The error for a failed restic command, from its stderr. */
export function resticError(stderr: string): ResticError {
  const rule = RULES.find((candidate) => candidate.test.test(stderr));
  if (rule) return new ResticError(rule.failure, rule.message, rule.hint);
  const fatal = stderr
    .split('\n')
    .find((line) => line.startsWith('Fatal: '))
    ?.slice('Fatal: '.length);
  // A URL's user:password@ (rest: repositories) must not reach a terminal or a log.
  const line = (fatal ?? (lastLine(stderr) || 'failed')).replace(/\/\/[^/@\s]+@/g, '//***@');
  return new ResticError('other', `restic: ${line}`);
}
