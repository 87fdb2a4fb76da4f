// What `flotilla init` looks for in a project directory: a Compose file, a PM2 ecosystem
// file, a package.json. Only the names the tools themselves look for, in their order
// (Compose prefers compose.yaml, PM2's docs name ecosystem.config.js first), so init finds
// what `docker compose up` and `pm2 start` would use.
import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** `docker compose` reads the first of these it finds. */
export const COMPOSE_FILES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yaml',
  'docker-compose.yml',
] as const;

export const ECOSYSTEM_FILES = [
  'ecosystem.config.js',
  'ecosystem.config.cjs',
  'ecosystem.config.mjs',
  'ecosystem.json',
] as const;

export interface ProjectFiles {
  compose?: string;
  ecosystem?: string;
  packageJson?: string;
}

/** The files of `dir` init can start from (names relative to `dir`). */
export async function detectProjectFiles(dir: string): Promise<ProjectFiles> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = new Set(entries.filter((entry) => entry.isFile()).map((entry) => entry.name));
  const found: ProjectFiles = {};
  const compose = COMPOSE_FILES.find((name) => files.has(name));
  if (compose !== undefined) found.compose = compose;
  const ecosystem = ECOSYSTEM_FILES.find((name) => files.has(name));
  if (ecosystem !== undefined) found.ecosystem = ecosystem;
  if (files.has('package.json')) found.packageJson = 'package.json';
  return found;
}

/** A path as the user reads it: relative to where init runs when it is below it, else absolute. */
export function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === '' || relative.startsWith('..') ? path.resolve(file) : relative;
}
