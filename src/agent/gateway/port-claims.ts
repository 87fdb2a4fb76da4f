// Which stack's gateway holds which port on this machine. Two stacks' Caddys on one port do
// not fail: Caddy sets SO_REUSEPORT, both bind, and the kernel splits the connections between
// two different gateways. So before a load, the gateway claims the ports its config listens
// on, one small record per port (`<dir>/net-<netns>/<port>` → stack, Caddy's dir and pid), and
// refuses a port another live gateway claimed, naming that stack; then asks the kernel
// whether anything else listens there. A record is trusted only while its Caddy process is
// alive. Ports belong to a network namespace: lab nodes on one machine each have their 443.
import { readlinkSync } from 'node:fs';
import { link, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { PrivateJsonError, readPrivateJson, writePrivateJson } from '../../state/private-json.ts';
import { programName, tcpListeners } from '../port-check.ts';
import { isRunning, readProcStat } from '../../system/proc.ts';

/**
 * Shared by every gateway of this user: root's live in /run (memory: a reboot forgets them),
 * anyone else's next to their stacks' state. A claim outliving its Caddy is ignored anyway.
 */
export function defaultPortClaimsDir(): string {
  if (process.getuid?.() === 0) return '/run/flotilla/ports';
  const state = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
  return path.join(state, 'flotilla', 'ports');
}

export class GatewayPortInUse extends Error {
  constructor(
    readonly port: number,
    /** Who holds it: `the gateway of stack "shop" (pid 12)`, `nginx (pid 7)`. */
    readonly holder: string,
    readonly hint: string,
  ) {
    super(`port ${port} is already in use by ${holder}`);
    this.name = 'GatewayPortInUse';
  }
}

const claimSchema = z.object({
  stack: z.string(),
  /** The claiming gateway's Caddy dir: one gateway, whatever its current pid. */
  dir: z.string(),
  pid: z.number().int().positive(),
  /** /proc start time of `pid`, so a reused PID does not keep a claim alive. */
  startTime: z.number().int().nonnegative(),
});

type Claim = z.infer<typeof claimSchema>;

const FILE = /^\d+$/;
/** Attempts at one port when other gateways keep creating and removing its record. */
const ATTEMPTS = 3;

export class PortClaims {
  private readonly dir: string;

  constructor(
    claimsDir: string,
    private readonly owner: { stack: string; dir: string },
  ) {
    this.dir = path.join(path.resolve(claimsDir), networkNamespace());
    this.owner = { stack: owner.stack, dir: path.resolve(owner.dir) };
  }

  /**
   * Claims `ports` for this gateway's Caddy `pid` and checks nothing else listens on them.
   * Returns the ports newly claimed (to release if the load then fails); throws
   * GatewayPortInUse, claiming nothing new, when a port is taken.
   */
  async take(ports: readonly number[], pid: number): Promise<number[]> {
    const startTime = readProcStat(pid)?.startTime;
    if (startTime === undefined) throw new Error(`caddy (pid ${pid}) is not running`);
    const mine: Claim = { ...this.owner, pid, startTime };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const created: number[] = [];
    try {
      for (const port of ports) if (await this.claim(port, mine)) created.push(port);
      await this.refuseOtherListeners(ports, pid);
    } catch (error) {
      await this.release(created);
      throw error;
    }
    return created;
  }

  /** Drops this gateway's claims on `ports`. */
  async release(ports: readonly number[]): Promise<void> {
    for (const port of ports) {
      const claim = await this.read(port);
      if (claim !== 'unreadable' && claim?.dir === this.owner.dir)
        await rm(this.file(port), { force: true });
    }
  }

  /** Drops this gateway's claims on every port but `ports` (all of them when empty). */
  async keepOnly(ports: readonly number[]): Promise<void> {
    const kept = new Set(ports);
    const files = await readdir(this.dir).catch(() => []);
    await this.release(files.filter((f) => FILE.test(f) && !kept.has(Number(f))).map(Number));
  }

  /** True when a record was created, false when this gateway's own one was renewed. */
  private async claim(port: number, mine: Claim): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const existing = await this.read(port);
      if (existing !== 'unreadable' && existing?.dir === mine.dir) {
        await writePrivateJson(this.file(port), mine);
        return false;
      }
      if (existing !== undefined && existing !== 'unreadable' && isLive(existing)) {
        throw inUse(port, `the gateway of stack "${existing.stack}" (pid ${existing.pid})`);
      }
      // Its Caddy is gone (or the record is garbage): the port is not claimed.
      if (existing !== undefined) await rm(this.file(port), { force: true });
      if (await this.create(port, mine)) return true;
      if (attempt === ATTEMPTS) throw new Error(`the claim on port ${port} keeps changing`);
    }
  }

  /**
   * Written aside, then hard-linked into place: link() fails when the record exists, so of
   * two gateways claiming one port at once (two agents starting after a reboot) one wins.
   */
  private async create(port: number, claim: Claim): Promise<boolean> {
    const file = this.file(port);
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(claim)}\n`, { mode: 0o600 });
    try {
      await link(temporary, file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /** A gateway without a claim (an older Flotilla) or any other program on one of `ports`. */
  private async refuseOtherListeners(ports: readonly number[], pid: number): Promise<void> {
    const wanted = new Set(ports);
    for (const listener of await tcpListeners()) {
      if (!wanted.has(listener.port)) continue;
      const others = listener.pids.filter((holder) => holder !== pid);
      if (listener.pids.length > 0 && others.length === 0) continue;
      const holder =
        others.length === 0
          ? 'a program this agent cannot see (run the agent as root to name it)'
          : (await Promise.all(others.map((other) => this.describe(other)))).join(', ');
      throw inUse(listener.port, holder);
    }
  }

  private async describe(pid: number): Promise<string> {
    for (const file of await readdir(this.dir).catch(() => [])) {
      if (!FILE.test(file)) continue;
      const claim = await this.read(Number(file));
      if (claim !== undefined && claim !== 'unreadable' && claim.pid === pid && isLive(claim))
        return `the gateway of stack "${claim.stack}" (pid ${pid})`;
    }
    return `${programName(pid)} (pid ${pid})`;
  }

  private async read(port: number): Promise<Claim | 'unreadable' | undefined> {
    try {
      return await readPrivateJson(this.file(port), claimSchema);
    } catch (error) {
      if (error instanceof PrivateJsonError) return 'unreadable';
      throw error;
    }
  }

  private file(port: number): string {
    return path.join(this.dir, String(port));
  }
}

/** `net-<inode>` of this process's network namespace, which its Caddy shares. */
export function networkNamespace(): string {
  // The link reads `net:[4026531833]`.
  return `net-${/\d+/.exec(readlinkSync('/proc/self/ns/net'))?.[0] ?? 'unknown'}`;
}

function isLive(claim: Claim): boolean {
  return isRunning(claim.pid, claim.startTime);
}

function inUse(port: number, holder: string): GatewayPortInUse {
  return new GatewayPortInUse(
    port,
    holder,
    'two gateways on one port would split its requests between them: set gateway.http_port ' +
      "and gateway.https_port in this stack's flotilla.yml to ports nothing else uses, or stop " +
      'the other one',
  );
}
