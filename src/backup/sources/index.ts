// The source driver for each kind of backup job.
import type { SourceKind } from '../job.ts';
import { commandSource } from './command.ts';
import { filesSource } from './files.ts';
import { postgresSource } from './postgres.ts';
import { redisSource } from './redis.ts';
import type { BackupSource } from './source.ts';

export const SOURCES: Record<SourceKind, BackupSource> = {
  postgres: postgresSource,
  redis: redisSource,
  files: filesSource,
  command: commandSource,
};
