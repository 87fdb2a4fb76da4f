/* eslint-disable -- test data: an ecosystem file as PM2 users write it (CommonJS, no imports) */
// What the operator of the single-vps-pm2-caddy write-up would have had: four Node
// services under /root, each with its own .env (env_file, "the right way" of the write-up).
module.exports = {
  apps: [
    {
      name: 'voice-pipeline',
      script: './server.js',
      cwd: '/root/voice-pipeline',
      env_file: './.env',
      env: { NODE_ENV: 'production', PORT: 8080 },
    },
    {
      name: 'db-proxy',
      script: './server.js',
      cwd: '/root/db-proxy',
      env_file: './.env',
      env: { NODE_ENV: 'production', PORT: 3000 },
    },
    {
      name: 'log-query-service',
      script: './server.js',
      cwd: '/root/log-query-service',
      env_file: './.env',
      env: { NODE_ENV: 'production', PORT: 3001 },
    },
    {
      name: 'deepgram-proxy',
      script: './server.js',
      cwd: '/root/deepgram-proxy',
      env_file: './.env',
      env: { NODE_ENV: 'production' },
    },
  ],
};
