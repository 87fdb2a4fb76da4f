// Compose secrets → Flotilla secrets. Their values go to the secret store (never into
// the stack file): a secret read from a file is set with --from-file, one from the
// environment with its value on stdin. A service's `secrets:` become `secret_files`;
// names follow the secret-name rule (db-password → DB_PASSWORD). Compose mounts each at
// /run/secrets/<name>; Flotilla gives the file's path in <NAME>_FILE.
import { secretName, unique } from '../names.ts';
import type { ComposeContext } from './context.ts';
import type { ProjectNames, ServiceState } from './service-state.ts';
import type { MapNode } from './tree.ts';

/** Names every declared secret and says how to set each one the services use. */
export function nameSecrets(top: MapNode | undefined, names: ProjectNames): void {
  const taken = new Set<string>();
  for (const name of top?.entries.keys() ?? [])
    names.secrets.set(name, unique(secretName(name), taken, 128, '_'));
}

/** What to run to set a declared secret, for the report. */
function howToSet(
  context: ComposeContext,
  top: MapNode | undefined,
  name: string,
  flotillaName: string,
): string {
  const declared = top?.entries.get(name)?.value;
  const field = (key: string) =>
    declared?.kind === 'map' ? declared.entries.get(key)?.value : undefined;
  const file = field('file');
  const filePath = file && context.text(file, `secrets.${name}.file`);
  if (filePath !== undefined)
    return `flotilla secrets set ${flotillaName} --from-file ${context.relocate(filePath, file!.pos)}`;
  const variable = field('environment');
  const variableName = variable && context.text(variable, `secrets.${name}.environment`);
  if (variableName !== undefined)
    return `printf %s "$${variableName}" | flotilla secrets set ${flotillaName}`;
  return `flotilla secrets set ${flotillaName} (Compose's secret ${name} is ${field('external') ? 'external' : 'declared without a source'})`;
}

export function mapServiceSecrets(state: ServiceState): void {
  const { context, names } = state;
  state.eachReference('secrets', 'a secret name', (name, item, itemPath) => {
    const flotillaName = names.secrets.get(name);
    if (flotillaName === undefined) {
      context.note(
        'untranslated',
        item.pos,
        itemPath,
        `secret ${name} is not declared under the top-level secrets:`,
        'declare it (Compose refuses an undeclared secret)',
      );
      return;
    }
    state.draft.push('secret_files', flotillaName, item.pos);
    context.report.needSecret(
      flotillaName,
      howToSet(context, names.top.secrets, name, flotillaName),
    );
    const target = item.kind === 'map' ? item.entries.get('target')?.value : undefined;
    const targetText = target && context.text(target, `${itemPath}.target`);
    const composePath = targetText?.startsWith('/')
      ? targetText
      : `/run/secrets/${targetText ?? name}`;
    // A setting naming Compose's path (POSTGRES_PASSWORD_FILE: /run/secrets/…) must change.
    const env = (state.draft.fields.env ?? {}) as Record<string, unknown>;
    const naming = Object.keys(env).filter((key) => env[key] === composePath);
    context.note(
      'changed',
      item.pos,
      itemPath,
      `secret ${name} is the secret file ${flotillaName}: Compose mounts it at ${composePath}, Flotilla gives its path in ${flotillaName}_FILE`,
      naming.length === 0
        ? undefined
        : `${naming.join(' and ')} name${naming.length === 1 ? 's' : ''} ${composePath}: name the secret ${naming[0]!.replace(/_FILE$/, '')} instead (Flotilla then sets ${naming[0]!.endsWith('_FILE') ? naming[0] : `${naming[0]}_FILE`} to the file's path), or point the setting at the path in ${flotillaName}_FILE`,
    );
    for (const key of ['uid', 'gid', 'mode'])
      if (item.kind === 'map' && item.entries.has(key))
        context.note(
          'untranslated',
          item.entries.get(key)!.keyPos,
          `${itemPath}.${key}`,
          `Flotilla's secret files are 0400 and owned by the user the service runs as`,
          'run the service as the user that must read it (user:)',
        );
  });
}
