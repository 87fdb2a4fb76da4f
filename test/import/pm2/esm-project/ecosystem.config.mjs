export default { apps: [{ name: 'esm', script: 'server.mjs', env: { PORT: 4000 } }] };
