// The hub's secret store: every value encrypted at rest with age (X25519) to the hub's own
// identity, every `set` a new version, `rollback` back to the previous one. Values are
// decrypted only to be sealed again to the node that runs the service that needs them.
import path from 'node:path';
import * as age from 'age-encryption';
import { z } from 'zod';
import { isSecretName, SECRET_NAME_RULE } from '../spec/secret-name.ts';
import { PrivateJsonError, readPrivateJson, writePrivateJson } from '../state/private-json.ts';
import { ensureStateDir } from '../state/state-dir.ts';
import { readOrCreateSecretFile } from './secret-file.ts';

const storeSchema = z.object({
  secrets: z.record(
    z.string().refine(isSecretName),
    z.object({
      /** The version in use; rollback moves it back. */
      current: z.number().int().min(1),
      versions: z
        .array(
          z.object({ version: z.number().int().min(1), at: z.number(), ciphertext: z.string() }),
        )
        .min(1),
    }),
  ),
});
type StoreFile = z.infer<typeof storeSchema>;

export class SecretError extends Error {}

export interface SecretSummary {
  name: string;
  current: number;
  versions: number;
  updated_at: number;
}

export function assertSecretName(name: string): void {
  if (!isSecretName(name)) throw new SecretError(`bad secret name "${name}": ${SECRET_NAME_RULE}`);
}

/** An age identity kept in `file` (0600), created on first use. */
export async function loadOrCreateIdentity(
  file: string,
): Promise<{ identity: string; recipient: string }> {
  const identity = await readOrCreateSecretFile(file, {
    what: 'age identity',
    // X25519, not whatever age defaults to: joins prove possession with an X25519 exchange.
    create: () => age.generateX25519Identity(),
    isValid: (text) => text.startsWith('AGE-SECRET-KEY-'),
  });
  return { identity, recipient: await age.identityToRecipient(identity) };
}

export async function sealTo(recipient: string, value: string): Promise<string> {
  const encrypter = new age.Encrypter();
  encrypter.addRecipient(recipient);
  return Buffer.from(await encrypter.encrypt(value)).toString('base64');
}

export async function openWith(identity: string, sealed: string): Promise<string> {
  const decrypter = new age.Decrypter();
  decrypter.addIdentity(identity);
  return decrypter.decrypt(Buffer.from(sealed, 'base64'), 'text');
}

export class SecretStore {
  private constructor(
    private readonly file: string,
    private readonly identity: string,
    private readonly recipient: string,
  ) {}

  /** The store of a stack's state dir: `<stateDir>/secrets/`. */
  static async open(stateDir: string): Promise<SecretStore> {
    await ensureStateDir(stateDir);
    const dir = path.join(stateDir, 'secrets');
    const { identity, recipient } = await loadOrCreateIdentity(path.join(dir, 'hub.identity'));
    return new SecretStore(path.join(dir, 'store.json'), identity, recipient);
  }

  /** Names in a state dir's store, without touching (or creating) the hub's identity. */
  static async namesIn(stateDir: string): Promise<Set<string>> {
    return new SecretStore(path.join(stateDir, 'secrets', 'store.json'), '', '').names();
  }

  async list(): Promise<SecretSummary[]> {
    const { secrets } = await this.read();
    return Object.entries(secrets)
      .map(([name, entry]) => ({
        name,
        current: entry.current,
        versions: entry.versions.length,
        updated_at: entry.versions.find((version) => version.version === entry.current)!.at,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async names(): Promise<Set<string>> {
    return new Set(Object.keys((await this.read()).secrets));
  }

  /** Stores a new version and makes it current; returns its number. */
  async set(name: string, value: string): Promise<number> {
    return (await this.setAll(new Map([[name, value]]))).get(name)!;
  }

  /**
   * Stores a new version of each secret in one write: every name is checked first, so a
   * bad one changes nothing. Returns each secret's new version.
   */
  async setAll(values: ReadonlyMap<string, string>): Promise<Map<string, number>> {
    for (const name of values.keys()) assertSecretName(name);
    const store = await this.read();
    const versions = new Map<string, number>();
    for (const [name, value] of values) {
      const entry = Object.hasOwn(store.secrets, name) ? store.secrets[name] : undefined;
      const version = (entry?.versions.at(-1)?.version ?? 0) + 1;
      const ciphertext = await sealTo(this.recipient, value);
      store.secrets[name] = {
        current: version,
        versions: [...(entry?.versions ?? []), { version, at: Date.now(), ciphertext }],
      };
      versions.set(name, version);
    }
    await this.write(store);
    return versions;
  }

  async remove(name: string): Promise<void> {
    const store = await this.read();
    if (!Object.hasOwn(store.secrets, name)) throw new SecretError(`no secret named ${name}`);
    delete store.secrets[name];
    await this.write(store);
  }

  /** Makes the version before the current one current again; returns it. */
  async rollback(name: string): Promise<number> {
    const store = await this.read();
    const entry = Object.hasOwn(store.secrets, name) ? store.secrets[name] : undefined;
    if (!entry) throw new SecretError(`no secret named ${name}`);
    const previous = entry.versions.filter((version) => version.version < entry.current).at(-1);
    if (!previous) throw new SecretError(`${name} has no version before ${entry.current}`);
    entry.current = previous.version;
    await this.write(store);
    return previous.version;
  }

  /** The current values of `names` (those that exist). */
  async values(names: Iterable<string>): Promise<Map<string, string>> {
    const { secrets } = await this.read();
    const result = new Map<string, string>();
    for (const name of names) {
      const entry = Object.hasOwn(secrets, name) ? secrets[name] : undefined;
      const current = entry?.versions.find((version) => version.version === entry.current);
      if (current) result.set(name, await openWith(this.identity, current.ciphertext));
    }
    return result;
  }

  private async read(): Promise<StoreFile> {
    try {
      return (await readPrivateJson(this.file, storeSchema)) ?? { secrets: {} };
    } catch (error) {
      if (!(error instanceof PrivateJsonError)) throw error;
      throw new SecretError(`${this.file} is not a Flotilla secret store`);
    }
  }

  /** Written aside (a temporary per process) and renamed: a crash never loses every secret. */
  private async write(store: StoreFile): Promise<void> {
    await writePrivateJson(this.file, store);
  }
}
