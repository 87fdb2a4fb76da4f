/* eslint-disable -- test data: an ecosystem file as PM2 users write it (CommonJS, no imports) */
module.exports = { apps: [{ name: 'a', script: 'a.js' }] };
