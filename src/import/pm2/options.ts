// The PM2 app options the import knows: the interpreter PM2 picks from a script's
// extension, the options map-app.ts translates, and those it does not, each with what to
// do instead. An option in neither list is not a PM2 option (a typo): the report says so.

/** PM2 picks the interpreter from the script's extension (none: run the script itself). */
export const INTERPRETERS: Record<string, string> = {
  '.js': 'node',
  '.mjs': 'node',
  '.cjs': 'node',
  '.ts': 'ts-node',
  '.sh': 'bash',
  '.py': 'python3',
  '.rb': 'ruby',
  '.php': 'php',
  '.pl': 'perl',
  '.coffee': 'coffee',
};

export const TRANSLATED = new Set([
  'name',
  'script',
  'args',
  'interpreter',
  'interpreter_args',
  'node_args',
  'cwd',
  'env',
  'env_file',
  'instances',
  'exec_mode',
  'autorestart',
  'stop_exit_codes',
  'kill_timeout',
  'uid',
  'user',
]);

const BACKOFF =
  'Flotilla restarts with a backoff (×1.5, at most 15 s, reset after 30 s up) and marks a service failed after 16 unstable starts';
const LOGS = 'Flotilla keeps each service’s stdout and stderr, rotated: flotilla logs <service>';
export const UNTRANSLATED: Record<string, string> = {
  max_memory_restart:
    'Flotilla has no memory limit for processes (memory: is for image services); run it as an image with memory:, or rely on the kernel OOM killer and restart: always',
  cron_restart:
    'restart it on a schedule from outside, e.g. a systemd timer running `flotilla restart <service>`',
  watch: 'deploy a new release instead of watching files',
  ignore_watch: 'deploy a new release instead of watching files',
  watch_delay: 'deploy a new release instead of watching files',
  watch_options: 'deploy a new release instead of watching files',
  error_file: LOGS,
  out_file: LOGS,
  log_file: LOGS,
  log_date_format: LOGS,
  merge_logs: LOGS,
  combine_logs: LOGS,
  time: LOGS,
  log_type: LOGS,
  disable_logs: LOGS,
  max_restarts: BACKOFF,
  min_uptime: BACKOFF,
  restart_delay: BACKOFF,
  exp_backoff_restart_delay: BACKOFF,
  listen_timeout: 'declare a health: check; an instance gets traffic once it passes',
  wait_ready: 'declare a health: check; an instance gets traffic once it passes',
  shutdown_with_message: 'Flotilla stops a service with a signal (stop.signal)',
  namespace: 'a stack is its own namespace',
  vizion: 'releases carry their version',
  source_map_support: 'pass --enable-source-maps in node_args',
  instance_var: 'Flotilla sets no instance number variable; ${instance} names the instance in env',
  increment_var: 'each replica gets its own port in ${port}',
  pid_file: 'Flotilla tracks the process itself',
  treekill: 'Flotilla stops the whole process group',
  force: 'Flotilla never starts a second copy of an instance',
  post_update: 'run it as part of the release',
  append_env_name: 'not needed: instances are named by Flotilla',
  filter_env: 'a process gets only its own env, never the caller’s',
  gid: 'run it as a user (uid) whose group is the one needed',
  automation: 'PM2.io monitoring: Flotilla has its own status and health checks',
  pmx: 'PM2.io monitoring: Flotilla has its own status and health checks',
};

export const KNOWN = [...TRANSLATED, ...Object.keys(UNTRANSLATED)];
