/* eslint-disable -- test data: an ecosystem file as PM2 users write it (CommonJS, no imports) */
require('fs').writeFileSync(require('path').join(__dirname, 'written-by-ecosystem.txt'), 'x');
module.exports = { apps: [{ name: 'x', script: 'x.js' }] };
