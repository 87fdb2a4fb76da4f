// Which keys a login offers, in OpenSSH's order: the identity file given with -i alone, else
// the SSH agent at SSH_AUTH_SOCK, then ~/.ssh/id_ed25519, id_ecdsa and id_rsa. An encrypted
// key file cannot be used here (nothing asks for its passphrase): the agent can.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import ssh2, { type AnyAuthMethod, type ParsedKey } from 'ssh2';
import { hostKeyFingerprint, hostKeyFromBlob } from './host-keys.ts';
import { SshError } from './ssh-error.ts';

// ssh2 is CommonJS whose `utils` Node's ESM loader cannot name: reached through the default.

/** An identity file that is passphrase-protected. */
export class SshKeyEncrypted extends SshError {}
/** An identity file that is missing or holds no private key. */
export class SshKeyUnreadable extends SshError {}
/** Nothing to log in with: no -i, no agent, no default key. */
export class SshNoKey extends SshError {}

export const DEFAULT_IDENTITY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

export interface LoginKeys {
  methods: AnyAuthMethod[];
  /** What is offered, for messages: `the key ~/.ssh/id_ed25519 (SHA256:…)`, `the SSH agent`. */
  offered: string[];
}

function describeKey(file: string, key: ParsedKey): string {
  return `the key ${file} (${key.type} ${hostKeyFingerprint(hostKeyFromBlob(key.getPublicSSH()))})`;
}

/** A private key file, parsed; missing, unparsable and encrypted files are typed errors. */
export async function readIdentityFile(file: string): Promise<ParsedKey> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (error) {
    throw new SshKeyUnreadable(
      `cannot read the identity file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      'give the private key (not the .pub) of a key the server accepts with -i',
    );
  }
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || key === undefined) {
    const why = key instanceof Error ? key.message : 'no key in it';
    if (/passphrase|encrypted/i.test(why))
      throw new SshKeyEncrypted(
        `the identity file ${file} is encrypted with a passphrase`,
        `load it into your SSH agent (\`eval "$(ssh-agent)"; ssh-add ${file}\`) and run again without -i: the agent's keys are used then`,
      );
    throw new SshKeyUnreadable(
      `${file} holds no private key Flotilla can use (${why})`,
      'give an OpenSSH private key (ed25519, ecdsa or rsa; not the .pub) with -i',
    );
  }
  if (!key.isPrivateKey())
    throw new SshKeyUnreadable(
      `${file} is a public key`,
      `give the private key with -i (${file.replace(/\.pub$/, '')})`,
    );
  return key;
}

/** The login's auth methods, in the order they are tried. */
export async function loginKeys(user: string, identityFile?: string): Promise<LoginKeys> {
  if (identityFile !== undefined) {
    const key = await readIdentityFile(identityFile);
    return {
      methods: [{ type: 'publickey', username: user, key }],
      offered: [describeKey(identityFile, key)],
    };
  }
  const methods: AnyAuthMethod[] = [];
  const offered: string[] = [];
  const agent = process.env.SSH_AUTH_SOCK;
  if (agent) {
    methods.push({ type: 'agent', username: user, agent });
    offered.push(`the SSH agent's keys (${agent})`);
  }
  const skipped: string[] = [];
  for (const name of DEFAULT_IDENTITY_FILES) {
    const file = path.join(homedir(), '.ssh', name);
    try {
      const key = await readIdentityFile(file);
      methods.push({ type: 'publickey', username: user, key });
      offered.push(describeKey(file, key));
    } catch (error) {
      if (error instanceof SshKeyEncrypted) skipped.push(file);
      else if (!(error instanceof SshKeyUnreadable)) throw error;
    }
  }
  if (methods.length === 0)
    throw new SshNoKey(
      `no SSH key to log in with: no -i, no SSH agent (SSH_AUTH_SOCK) and no usable ${DEFAULT_IDENTITY_FILES.map((name) => `~/.ssh/${name}`).join(', ')}${skipped.length > 0 ? ` (${skipped.join(', ')} encrypted)` : ''}`,
      'give the private key the server accepts with -i, or load it into ssh-agent (ssh-add)',
    );
  return { methods, offered };
}
