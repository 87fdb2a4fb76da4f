// The dashboard's users: a name, a scope (what their sessions may do through the API) and a
// scrypt password hash, kept in <state>/hub/dashboard-users.json (0600, private-json.ts).
//
// `flotilla dashboard user add|rm|list` writes this file directly, not through the hub's API:
// the CLI runs on the hub's machine as the state dir's owner (as `flotilla secrets` does), the
// first user can be added before the hub ever starts, and no API route has to carry a
// password. Writes are lock-free atomic renames: a reader never sees half a file, and two
// admins adding users at the same instant may lose one add (the CLI reports what it wrote;
// `user list` shows what stuck), a fair price for no lock file to go stale. A running hub sees
// every change without a restart: each lookup compares the file's inode, mtime and size with
// the last read (a rename always brings a new inode) and reads it again when they differ.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { readPrivateJson, writePrivateJson } from '../../state/private-json.ts';
import { SCOPES, type Scope } from '../api/api-route.ts';
import {
  DEFAULT_SCRYPT_COST,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  passwordHashSchema,
  verifyPassword,
  type PasswordHash,
  type ScryptCost,
} from './password-hash.ts';

export const MIN_PASSWORD_LENGTH = 12;

export const userNameSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_.@-]{0,62}$/,
    'a user name is 1-63 of a-z 0-9 _ . @ - (starting with a letter or digit)',
  );

const storedUserSchema = z.object({
  name: userNameSchema,
  scope: z.enum(SCOPES),
  password: passwordHashSchema,
  /** Tells a user removed and added again under the same name from the one a session knew. */
  created_at: z.number().int(),
});
type StoredUser = z.infer<typeof storedUserSchema>;

const usersFileSchema = z.object({ version: z.literal(1), users: z.array(storedUserSchema) });

/** What the hub and `user list` know of a user: everything but the password hash. */
export interface DashboardUser {
  name: string;
  scope: Scope;
  created_at: number;
}

/** A user the command cannot add or remove; its hint says what to do instead. */
export class DashboardUserError extends Error {
  override readonly name = 'DashboardUserError';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export const nameTaken = (name: string) =>
  new DashboardUserError(
    `a dashboard user named ${name} exists already`,
    `to change their password or scope: flotilla dashboard user rm ${name}, then add them again`,
  );

/** Refuses a password too short or too long to be one, with what to do. */
export function checkNewPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH)
    throw new DashboardUserError(
      `the password is shorter than ${MIN_PASSWORD_LENGTH} characters`,
      'use a longer one, e.g. four random words, or: openssl rand -base64 18',
    );
  if (password.length > MAX_PASSWORD_LENGTH)
    throw new DashboardUserError(
      `the password is longer than ${MAX_PASSWORD_LENGTH} characters`,
      'a password manager can make a shorter one',
    );
}

const publicView = ({ name, scope, created_at }: StoredUser): DashboardUser => ({
  name,
  scope,
  created_at,
});

export function dashboardUsersFile(stateDir: string): string {
  return path.join(stateDir, 'hub', 'dashboard-users.json');
}

export class DashboardUsers {
  private users: StoredUser[] = [];
  /** inode:mtime:size of the file as last read; '' before the first read. */
  private stamp = '';
  private dummy: Promise<PasswordHash> | undefined;

  private constructor(
    private readonly file: string,
    private readonly cost: ScryptCost,
    private readonly now: () => number,
  ) {}

  /** `cost` lowers scrypt's cost in tests only: real users get the default. */
  static async open(
    stateDir: string,
    options: { cost?: ScryptCost; now?: () => number } = {},
  ): Promise<DashboardUsers> {
    const users = new DashboardUsers(
      dashboardUsersFile(stateDir),
      options.cost ?? DEFAULT_SCRYPT_COST,
      options.now ?? Date.now,
    );
    await users.current();
    return users;
  }

  async list(): Promise<DashboardUser[]> {
    return (await this.current()).map(publicView);
  }

  async find(name: string): Promise<DashboardUser | undefined> {
    const user = (await this.current()).find((candidate) => candidate.name === name);
    return user && publicView(user);
  }

  /**
   * The user, if `password` is theirs. An unknown name costs the same scrypt as a known one
   * (against a hash made at start), so how long a refusal takes does not tell which names exist.
   */
  async verify(name: string, password: string): Promise<DashboardUser | undefined> {
    const user = (await this.current()).find((candidate) => candidate.name === name);
    this.dummy ??= hashPassword('no user has this password', this.cost);
    const stored = user?.password ?? (await this.dummy);
    const right = await verifyPassword(password.slice(0, MAX_PASSWORD_LENGTH), stored);
    return right && user ? publicView(user) : undefined;
  }

  async add(name: string, scope: Scope, password: string): Promise<DashboardUser> {
    checkNewPassword(password);
    const users = await this.current();
    if (users.some((user) => user.name === name)) throw nameTaken(name);
    const user: StoredUser = {
      name,
      scope,
      password: await hashPassword(password, this.cost),
      created_at: this.now(),
    };
    await this.save([...(await this.current()), user]);
    return publicView(user);
  }

  /** Whether a user of that name existed (they no longer do). */
  async remove(name: string): Promise<boolean> {
    const users = await this.current();
    const kept = users.filter((user) => user.name !== name);
    if (kept.length === users.length) return false;
    await this.save(kept);
    return true;
  }

  private async save(users: StoredUser[]): Promise<void> {
    await writePrivateJson(this.file, { version: 1, users });
    this.stamp = '';
  }

  /** The users as the file holds them now, read again only when it changed. */
  private async current(): Promise<StoredUser[]> {
    let stamp: string;
    try {
      const info = await stat(this.file, { bigint: true });
      stamp = `${info.ino}:${info.mtimeNs}:${info.size}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      stamp = 'none';
    }
    if (stamp !== this.stamp) {
      this.users = (await readPrivateJson(this.file, usersFileSchema))?.users ?? [];
      this.stamp = stamp;
    }
    return this.users;
  }
}
