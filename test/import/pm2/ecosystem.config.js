/* eslint-disable -- test data: an ecosystem file as PM2 users write it (CommonJS, no imports) */
// A PM2 ecosystem file as projects write them: an API in cluster mode, a worker, a
// Python job, values read from the environment PM2 runs in.
module.exports = {
  apps: [
    {
      name: 'api',
      script: './dist/server.js',
      args: '--trust-proxy "x-forwarded-for"',
      node_args: ['--max-old-space-size=512'],
      cwd: './api',
      instances: 4,
      exec_mode: 'cluster',
      max_memory_restart: '300M',
      kill_timeout: 8000,
      env: {
        NODE_ENV: 'development',
        PORT: 3000,
        DATABASE_URL: process.env.DATABASE_URL,
        STRIPE_SECRET_KEY: process.env.STRIPE_SECRET_KEY,
        SESSION_SECRET: 'not-so-secret',
      },
      env_production: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
      },
    },
    {
      name: 'Queue Worker',
      script: 'worker.mjs',
      cwd: './api',
      instances: 'max',
      cron_restart: '0 3 * * *',
      watch: true,
      error_file: '/var/log/worker.err',
      autorestart: false,
    },
    {
      name: 'report',
      script: 'report.py',
      interpreter: 'python3',
      args: ['--daily'],
      stop_exit_codes: [0],
      env: { HOME_DIR: process.env.HOME },
      restart_dely: 100,
    },
  ],
  deploy: {
    production: {
      user: 'deploy',
      host: ['203.0.113.5'],
      ref: 'origin/main',
      repo: 'git@example.com:app.git',
      path: '/srv/app',
    },
  },
};
