// The stack an import builds before it is written: plain stack-file values, plus for each
// value the place in the source it came from, so a problem the stack loader finds in the
// result is reported where the user can fix it (the Compose or ecosystem file).
import type { PathSegment } from '../spec/diagnostic.ts';
import type { Stack } from '../spec/schema.ts';
import type { ImportReport, SourcePos } from './report.ts';

export class ServiceDraft {
  readonly fields: Record<string, unknown> = {};
  /** Source positions by path inside the service (`ports.http`, `env.DATABASE_URL`). */
  readonly origins = new Map<string, SourcePos>();
  /** Comment lines written above the service (suggested routes, what to review). */
  readonly comments: string[] = [];

  constructor(
    readonly name: string,
    readonly at: SourcePos,
  ) {}

  set(key: string, value: unknown, at?: SourcePos): void {
    this.fields[key] = value;
    if (at !== undefined) this.origins.set(key, at);
  }

  /** Sets `key.sub` in a mapping field (ports, env), creating the mapping. */
  setIn(key: string, sub: string, value: unknown, at?: SourcePos): void {
    const current = (this.fields[key] ?? {}) as Record<string, unknown>;
    current[sub] = value;
    this.fields[key] = current;
    if (at !== undefined) this.origins.set(`${key}.${sub}`, at);
  }

  /** Appends to a list field (volumes, depends_on, secret_files). */
  push(key: string, value: unknown, at?: SourcePos): void {
    const current = (this.fields[key] ?? []) as unknown[];
    if (at !== undefined) this.origins.set(`${key}.${current.length}`, at);
    current.push(value);
    this.fields[key] = current;
  }
}

export interface StackDraft {
  name: string;
  /** The source file, said in the header comment of the output. */
  source: string;
  /** How it was imported, e.g. `flotilla import compose`. */
  command: string;
  networks: Record<string, Record<string, unknown>>;
  networkOrigins: Map<string, SourcePos>;
  services: ServiceDraft[];
}

/** The source position of a value at `path` in the stack, or the nearest one above it. */
export function originOf(draft: StackDraft, path: PathSegment[]): SourcePos | undefined {
  const [top, name, ...rest] = path.map(String);
  if (top === 'networks' && name !== undefined) return draft.networkOrigins.get(name);
  if (top !== 'services' || name === undefined) return undefined;
  const service = draft.services.find((candidate) => candidate.name === name);
  if (!service) return undefined;
  for (let length = rest.length; length > 0; length--) {
    const found = service.origins.get(rest.slice(0, length).join('.'));
    if (found) return found;
  }
  return service.at;
}

/** What an import produces: the stack file's text, the stack the loader made of it, the report. */
export interface ImportResult {
  text: string;
  stack: Stack;
  report: ImportReport;
  draft: StackDraft;
}
