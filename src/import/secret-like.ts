// Which environment variables hold secrets, judged by name as an operator would: the
// importer writes `${secret:NAME}` for them instead of copying a value (from a Compose
// file, its `.env`, or an ecosystem file) into a stack file that ends up in git, `plan`
// output and `ps`. `*_FILE` variables hold paths, not secrets.

const SECRET_WORDS = new Set([
  'PASSWORD',
  'PASSWD',
  'PASS',
  'PWD',
  'PW',
  'SECRET',
  'TOKEN',
  'APIKEY',
  'CREDENTIALS',
  'PASSPHRASE',
]);
/** `_KEY` is a secret only after one of these words (API_KEY, not KEY_PREFIX or SORT_KEY). */
const KEY_QUALIFIERS = new Set([
  'API',
  'SECRET',
  'PRIVATE',
  'ACCESS',
  'AUTH',
  'ENCRYPTION',
  'MASTER',
  'SIGNING',
  'LICENSE',
  'APP',
  'SESSION',
  'JWT',
]);

/** A last word that makes the variable a setting about the secret, not the secret. */
const SETTING_WORDS = new Set([
  'FILE',
  'PATH',
  'DIR',
  'URL',
  'HOST',
  'PORT',
  'USER',
  'USERNAME',
  'NAME',
  'TTL',
  'EXPIRY',
  'EXPIRES',
  'EXPIRATION',
  'LIFETIME',
  'TIMEOUT',
  'LENGTH',
  'ENABLED',
  'HEADER',
  'TYPE',
  'ALGORITHM',
]);

/** A word that makes the variable a switch about passwords (MYSQL_ALLOW_EMPTY_PASSWORD). */
const SWITCH_WORDS = new Set(['ALLOW', 'EMPTY', 'RANDOM', 'REQUIRE', 'ENABLE', 'DISABLE', 'SKIP']);

export function isSecretLike(name: string): boolean {
  const words = name.toUpperCase().split(/_+/).filter(Boolean);
  const last = words.at(-1);
  // PWD alone is the working directory.
  if (last === undefined || SETTING_WORDS.has(last) || name === 'PWD') return false;
  if (words.some((word) => SWITCH_WORDS.has(word))) return false;
  if (words.some((word) => SECRET_WORDS.has(word))) return true;
  return words.some((word, index) => word === 'KEY' && KEY_QUALIFIERS.has(words[index - 1] ?? ''));
}

/** A value that is a switch, not a secret, whatever the variable's name: yes, false, 0. */
export function isSwitchValue(value: string | number | boolean): boolean {
  return typeof value === 'boolean' || /^(yes|no|true|false|on|off|0|1)$/i.test(String(value));
}
