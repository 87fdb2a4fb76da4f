// `flotilla import pm2`: the apps of a PM2 ecosystem file → process services. The file
// is loaded (JSON parsed, JavaScript evaluated in a locked-down child), checked against
// the shape PM2 reads, each app mapped (map-app.ts) and the stack checked by the loader.
import path from 'node:path';
import { parseSource, pinFinding } from '../../spec/source.ts';
import { ImportError } from '../errors.ts';
import { dnsName, unique } from '../names.ts';
import { ImportReport, type SourcePos } from '../report.ts';
import { ServiceDraft, type ImportResult, type StackDraft } from '../stack-draft.ts';
import { checkStack, renderStack } from '../write-stack.ts';
import { appSchema, ecosystemSchema } from './ecosystem-schema.ts';
import { loadEcosystem } from './load-ecosystem.ts';
import { mapApp } from './map-app.ts';

export interface Pm2ImportOptions {
  file: string;
  output?: string;
  name?: string;
  /** `--env production`: env_production over env, as `pm2 start --env production`. */
  env?: string;
  timeoutMs?: number;
}

/** Finds where a key of the file is written; only JSON files have positions to give. */
function positions(
  file: string,
  json: string | undefined,
): (path: (string | number)[]) => SourcePos {
  if (json === undefined) return () => ({ file });
  const { source, syntaxErrors } = parseSource(json, file);
  if (syntaxErrors.length > 0) return () => ({ file });
  return (path) => {
    const { line, col } = pinFinding(source, { path, message: '', atKey: true });
    return { file, line, col };
  };
}

export async function importPm2(options: Pm2ImportOptions): Promise<ImportResult> {
  const { file } = options;
  const loaded = await loadEcosystem(file, options.timeoutMs);
  const parsed = ecosystemSchema.safeParse(loaded.value);
  if (!parsed.success)
    throw new ImportError(
      `${file} exports no apps`,
      'export them: module.exports = { apps: [{ name, script, … }] }',
    );
  const apps = Array.isArray(parsed.data) ? parsed.data : parsed.data.apps;
  const prefix = Array.isArray(parsed.data) ? [] : ['apps'];
  const at = positions(file, loaded.json);
  const report = new ImportReport();
  const outputDir = path.dirname(
    path.resolve(options.output ?? path.join(process.cwd(), 'flotilla.yml')),
  );
  const sourceDir = path.dirname(path.resolve(file));
  if (!Array.isArray(parsed.data) && 'deploy' in parsed.data)
    report.note(
      'untranslated',
      at(['deploy']),
      'deploy',
      'PM2 deploy (git pull over SSH) is not imported',
      'Flotilla deploys releases: flotilla up / apply',
    );
  if (apps.length === 0)
    throw new ImportError(`${file} has no apps`, 'an ecosystem file lists its apps under apps:');
  const taken = new Set<string>();
  const services: ServiceDraft[] = [];
  apps.forEach((value, index) => {
    const app = appSchema.safeParse(value);
    const label = `apps[${index}]`;
    if (!app.success) {
      const issue = app.error.issues[0]!;
      const where = [label, ...issue.path.map(String)].join('.');
      throw new ImportError(
        `${file}: ${where}: ${issue.message}`,
        'PM2 would refuse this app too',
        at([
          ...prefix,
          index,
          ...issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
        ]),
      );
    }
    const appName = app.data.name ?? path.basename(app.data.script, path.extname(app.data.script));
    const name = unique(dnsName(appName, 'app'), taken);
    const draft = new ServiceDraft(name, at([...prefix, index]));
    const context = {
      report,
      outputDir,
      sourceDir,
      envName: options.env,
      label: `${label} (${appName})`,
      at: (key?: string) => at([...prefix, index, ...(key === undefined ? [] : key.split('.'))]),
    };
    if (name !== appName)
      report.note(
        'changed',
        context.at('name'),
        `${context.label}.name`,
        `named ${name}: a service name is lowercase letters, digits and hyphens`,
      );
    mapApp(app.data, context, draft);
    services.push(draft);
  });
  const draft: StackDraft = {
    name: options.name ?? dnsName(path.basename(sourceDir), 'stack'),
    source: path.relative(outputDir, path.resolve(file)) || file,
    command: 'flotilla import pm2',
    networks: {},
    networkOrigins: new Map(),
    services,
  };
  const text = renderStack(draft);
  const stack = checkStack(text, draft, options.output ?? 'flotilla.yml');
  return { text, stack, report, draft };
}
