// Loads the node's port redirects (plan/port-redirect-ruleset.ts) when they change. Needs
// root, like every table the agent loads; without it deployed services are reached on their
// slots' ports only (the gateway dials those anyway).
import { portRedirectRuleset } from '../plan/port-redirect-ruleset.ts';
import type { PortRedirect } from '../plan/release-variants.ts';
import { configHash } from '../state/config-hash.ts';
import { loadNftScript } from './nftables.ts';

export class PortRedirector {
  private readonly root = process.getuid?.() === 0;
  /** What is loaded now; undefined: unknown (the agent just started), so load it. */
  private loaded: string | undefined;

  constructor(private readonly stack: string) {}

  async apply(redirects: readonly PortRedirect[]): Promise<void> {
    if (!this.root) return;
    const hash = configHash(redirects);
    if (hash === this.loaded) return;
    await loadNftScript(portRedirectRuleset(this.stack, redirects));
    this.loaded = hash;
  }

  async remove(): Promise<void> {
    await this.apply([]);
  }
}
