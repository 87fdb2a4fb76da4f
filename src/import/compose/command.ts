// What runs: `image` (or, for a service Compose builds, the name Compose gives the image
// it builds, with a note: Flotilla does not build), `command` and `entrypoint`. A string
// command is split into words as Compose splits it, without a shell.
import { escapeLiteral } from '../../spec/interpolation.ts';
import { isSecretLike } from '../secret-like.ts';
import { ShellWordsError, splitWords } from '../shell-words.ts';
import type { ServiceState } from './service-state.ts';
import type { Node } from './tree.ts';

export function mapImage(state: ServiceState): void {
  const { context } = state;
  const image = state.entry('image');
  const build = state.entry('build');
  if (image) {
    const text = context.expectText(image.value, state.path('image'), 'an image reference');
    if (text !== undefined) {
      state.image = text;
      state.draft.set('image', text, image.value.pos);
    }
  }
  if (!build) return;
  if (state.image !== undefined) {
    context.note(
      'untranslated',
      build.keyPos,
      state.path('build'),
      `Flotilla runs images and does not build them: ${state.image} is used as it is`,
      `build it and push it to a registry the nodes can pull from (docker compose build && docker compose push)`,
    );
    return;
  }
  const name = `${context.project}-${state.composeName.toLowerCase()}`;
  state.image = name;
  state.draft.set('image', name, build.keyPos);
  context.note(
    'untranslated',
    build.keyPos,
    state.path('build'),
    `Flotilla runs images and does not build them: written as image: ${name}, the name Compose gives the image it builds`,
    'build the image and push it to a registry the nodes can pull from, then set image: to its reference (e.g. ghcr.io/you/app:1.0)',
  );
}

export function mapCommand(state: ServiceState): void {
  for (const key of ['command', 'entrypoint']) {
    const entry = state.entry(key);
    if (!entry) continue;
    const argv = words(state, entry.value, state.path(key));
    if (argv === undefined) continue;
    if (argv.length === 0) {
      state.context.note(
        'untranslated',
        entry.value.pos,
        state.path(key),
        `an empty ${key} clears the image's; Flotilla needs at least the program name`,
        `write the ${key} the container should run`,
      );
      continue;
    }
    state.draft.set(key, argv.map(escapeLiteral), entry.value.pos);
  }
}

function words(state: ServiceState, node: Node, path: string): string[] | undefined {
  const { context } = state;
  warnSecrets(state, node, path);
  if (node.kind === 'seq') {
    const items = node.items.map((item, index) =>
      context.expectText(item, `${path}[${index}]`, 'a string'),
    );
    return items.some((item) => item === undefined) ? undefined : (items as string[]);
  }
  if (node.kind !== 'scalar' || node.value === null) {
    if (node.kind === 'map') context.malformed(node.pos, path, 'expected a string or a list');
    return undefined;
  }
  const text = context.text(node, path)!;
  try {
    const { words: argv, shellSyntax } = splitWords(text);
    if (shellSyntax.length > 0)
      context.note(
        'changed',
        node.pos,
        path,
        `Compose runs no shell for a command: ${shellSyntax.join(' ')} reach${shellSyntax.length === 1 ? 'es' : ''} the program as arguments, and so they do here`,
        `if a shell was meant, write [/bin/sh, -c, "${text.replaceAll('"', '\\"')}"] in the Compose file and import again`,
      );
    return argv;
  } catch (error) {
    if (!(error instanceof ShellWordsError)) throw error;
    context.note(
      'untranslated',
      node.pos,
      path,
      error.message,
      'close the quote, or write the command as a list',
    );
    return undefined;
  }
}

/** A secret interpolated into a command line is visible to every local user in `ps`. */
function warnSecrets(state: ServiceState, node: Node, path: string): void {
  const scalars = node.kind === 'seq' ? node.items : [node];
  for (const scalar of scalars) {
    if (scalar.kind !== 'scalar' || typeof scalar.value !== 'string') continue;
    for (const part of state.context.parts(scalar.value, scalar.pos))
      if ('variable' in part && isSecretLike(part.variable))
        state.context.note(
          'changed',
          scalar.pos,
          path,
          `\${${part.variable}} is put into the command line, as Compose does: every local user can read it in ps`,
          `pass it in env as \${secret:${part.variable}} instead, and have the program read the variable`,
        );
  }
}
