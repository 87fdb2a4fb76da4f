// Shared by the example tests: load an example's flotilla.yml the way the CLI does, plan
// it, and read back the parts of the plan the tests check (rulesets, desired instances).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { planStack, type Plan } from '../../src/plan/plan.ts';
import type { DesiredInstance } from '../../src/plan/desired.ts';
import { formatDiagnostic } from '../../src/spec/diagnostic.ts';
import { loadStackFile, parseStackText, type LoadResult } from '../../src/spec/load.ts';
import type { Stack } from '../../src/spec/schema.ts';
import { readFileSync } from 'node:fs';

export const EXAMPLES_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../examples',
);

export interface LoadedExample {
  stack: Stack;
  plan: Plan;
  /** The example's folder (the stack file's directory). */
  dir: string;
  stateDir: string;
}

export function describeFailure(result: LoadResult): string {
  return result.ok ? 'ok' : result.diagnostics.map((d) => formatDiagnostic(d)).join('\n');
}

export async function loadExample(name: string): Promise<LoadedExample> {
  const dir = path.join(EXAMPLES_DIR, name);
  const result = await loadStackFile(path.join(dir, 'flotilla.yml'));
  if (!result.ok) throw new Error(`examples/${name} does not load:\n${describeFailure(result)}`);
  const stateDir = path.join(dir, '.flotilla');
  return {
    stack: result.stack,
    plan: planStack(result.stack, { stackDir: dir, stateDir }),
    dir,
    stateDir,
  };
}

/**
 * Loads an example after `edit` changed its parsed YAML, for "this change is refused"
 * tests. The edit works on the plain document, before defaults are applied.
 */
export function loadEditedExample(
  name: string,
  edit: (document: Record<string, unknown>) => void,
): LoadResult {
  const file = path.join(EXAMPLES_DIR, name, 'flotilla.yml');
  const document = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(document);
  return parseStackText(stringify(document), file);
}

/** The desired state of the (single) instance of `service`, wherever it runs. */
export function desiredOf(plan: Plan, service: string): DesiredInstance {
  const found = Object.values(plan.desired)
    .flatMap((node) => node.instances)
    .filter((instance) => instance.service === service);
  if (found.length !== 1)
    throw new Error(`expected one instance of ${service}, found ${found.length}`);
  return found[0]!;
}

export function nodeOf(plan: Plan, service: string): string[] {
  return plan.placement.filter((instance) => instance.service === service).map((p) => p.node);
}

export interface AcceptRule {
  line: string;
  iifname?: string;
  /** Source addresses/CIDRs; undefined means from anywhere. */
  saddr?: string[];
  protocol: 'tcp' | 'udp';
  ports: number[];
  comment: string;
}

// The fixed rules every ruleset starts with; none matches a port.
const FIXED_ACCEPTS = [
  /^ct state established,related accept$/,
  /^iif lo accept( comment ".*")?$/,
  /^meta l4proto \{ icmp, ipv6-icmp \} accept( comment ".*")?$/,
];

const PORT_RULE =
  /^(?:iifname "([^"]+)" )?(?:ip saddr (\{ [^}]+ \}|\S+) )?(tcp|udp) dport (\{ [^}]+ \}|\d+) accept comment "(.*)"$/;

const nftSet = (text: string) =>
  text.startsWith('{')
    ? text
        .slice(1, -1)
        .split(',')
        .map((item) => item.trim())
    : [text];

/**
 * Every accept rule of an nftables ruleset that matches ports. Throws on an accept rule
 * of any other shape, so that "port X is in no rule" can never pass because the parser
 * skipped the rule that opens it.
 */
export function acceptRules(ruleset: string): AcceptRule[] {
  const rules: AcceptRule[] = [];
  for (const raw of ruleset.split('\n')) {
    const line = raw.trim();
    if (!/\baccept\b/.test(line) || line.startsWith('#')) continue;
    if (FIXED_ACCEPTS.some((fixed) => fixed.test(line))) continue;
    const match = PORT_RULE.exec(line);
    if (!match) throw new Error(`unrecognised accept rule: ${line}`);
    const [, iifname, saddr, protocol, ports, comment] = match;
    const rule: AcceptRule = {
      line,
      protocol: protocol as 'tcp' | 'udp',
      ports: nftSet(ports!).map(Number),
      comment: comment!,
    };
    if (iifname !== undefined) rule.iifname = iifname;
    if (saddr !== undefined) rule.saddr = nftSet(saddr);
    rules.push(rule);
  }
  return rules;
}

export function rulesForPort(ruleset: string, port: number, protocol: 'tcp' | 'udp' = 'tcp') {
  return acceptRules(ruleset).filter(
    (rule) => rule.protocol === protocol && rule.ports.includes(port),
  );
}
