// The one rule for a secret's name, shared by the stack file (`${secret:NAME}`,
// `secret_files`), the secret store and every way into it (set, import). A name becomes an
// environment variable (NAME, NAME_FILE) and a key of the store's JSON, so `__proto__` and
// its kin (a leading double underscore) are refused: they are not plain keys in JavaScript.

const SECRET_NAME = /^(?!__)[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export const SECRET_NAME_RULE =
  'letters, digits and underscores, starting with a letter or one underscore, at most 128 characters, e.g. PG_PASSWORD';

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}
