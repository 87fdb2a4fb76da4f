// `flotilla init`'s stack: from the first thing the directory has, in this order, a
// Compose file, a PM2 ecosystem file (both through the importers `flotilla import` uses,
// so init and import never differ), a package.json with something to start, else one
// example service to edit. The text is annotated (annotate.ts) and checked by the stack
// loader like every stack file; what was found and left aside is said for the output.
import path from 'node:path';
import { importCompose } from '../import/compose/import-compose.ts';
import { importPm2 } from '../import/pm2/import-pm2.ts';
import { ImportReport } from '../import/report.ts';
import { ServiceDraft, type StackDraft } from '../import/stack-draft.ts';
import { checkStack, renderStack } from '../import/write-stack.ts';
import { dnsName } from '../import/names.ts';
import type { Stack } from '../spec/schema.ts';
import { annotateStack } from './annotate.ts';
import { detectProjectFiles, shownPath } from './detect.ts';
import { packageApp } from './package-app.ts';

export interface InitOptions {
  dir: string;
  /** The stack file's path (inside `dir`): relative paths in it are relative to it. */
  output: string;
  name?: string;
  /** The environment Compose variables interpolate from. */
  environment: Readonly<Record<string, string | undefined>>;
}

export interface InitResult {
  text: string;
  stack: Stack;
  /** What the stack was made from, e.g. `docker-compose.yml (Compose)`; `none` for the example. */
  from: string;
  /** Lines for the output: what was found, what was left aside and how to use it. */
  found: string[];
  /** What the importer could not carry over; empty for package.json and the example. */
  report: ImportReport;
}

function exampleService(): ServiceDraft {
  const service = new ServiceDraft('app', { file: 'flotilla.yml' });
  service.comments.push(
    'An example to edit: nothing to start from was found (no compose.yaml or',
    'docker-compose.yml, no ecosystem.config.js, no package.json start script).',
    'For a container, replace `run:` with `image: ghcr.io/you/app:1.0`.',
  );
  service.set('run', { command: ['node', 'server.js'] });
  service.setIn('ports', 'http', 3000);
  service.setIn('env', 'PORT', '${port}');
  return service;
}

/** Builds the stack for `options.dir`; throws ImportError/ImportProblems at the source's line. */
export async function initStack(options: InitOptions): Promise<InitResult> {
  const files = await detectProjectFiles(options.dir);
  // As the user reads it, so problems read `docker-compose.yml:4:13`.
  const inDir = (file: string) => shownPath(path.join(options.dir, file));
  const found: string[] = [];
  const aside = (file: string | undefined, command: string) => {
    if (file !== undefined)
      found.push(`${file}: not used (init starts from one file); import it with \`${command}\``);
  };
  if (files.compose !== undefined) {
    const result = await importCompose({
      file: inDir(files.compose),
      output: options.output,
      ...(options.name === undefined ? {} : { name: options.name }),
      environment: options.environment,
    });
    found.unshift(`${files.compose}: ${count(result.stack, 'service')} (Compose)`);
    aside(files.ecosystem, `flotilla import pm2 ${files.ecosystem}`);
    return finish(result.draft, result.report, `${files.compose} (Compose)`, found, options);
  }
  if (files.ecosystem !== undefined) {
    const result = await importPm2({
      file: inDir(files.ecosystem),
      output: options.output,
      ...(options.name === undefined ? {} : { name: options.name }),
    });
    found.unshift(`${files.ecosystem}: ${count(result.stack, 'app')} (PM2)`);
    return finish(result.draft, result.report, `${files.ecosystem} (PM2)`, found, options);
  }
  const app = files.packageJson === undefined ? undefined : await packageApp(options.dir);
  const report = new ImportReport();
  for (const [secret, how] of app?.secrets ?? []) report.needSecret(secret, how);
  if (files.packageJson !== undefined && app === undefined)
    found.push('package.json: no start script and no server.js, so nothing to start');
  const draft: StackDraft = {
    name: options.name ?? dnsName(path.basename(options.dir), 'stack'),
    source: app === undefined ? 'nothing' : 'package.json',
    command: 'flotilla init',
    networks: {},
    networkOrigins: new Map(),
    services: [app?.service ?? exampleService()],
  };
  found.unshift(...(app?.found ?? ['nothing to start from: wrote an example service to edit']));
  return finish(draft, report, app === undefined ? 'none' : 'package.json', found, options);
}

function count(stack: Stack, noun: string): string {
  const n = Object.keys(stack.services).length;
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function finish(
  draft: StackDraft,
  report: ImportReport,
  from: string,
  found: string[],
  options: InitOptions,
): InitResult {
  const origin =
    from === 'none'
      ? ['Written by `flotilla init`: an example service to edit.']
      : [
          `Written by \`flotilla init\` from ${from}.`,
          ...(report.notes.length > 0 || report.secrets.size > 0
            ? ['Review what init printed: keys not translated, suggested routes, secrets to set.']
            : []),
        ];
  const text = annotateStack(renderStack(draft), origin);
  const stack = checkStack(text, draft, options.output);
  return { text, stack, from, found, report };
}
