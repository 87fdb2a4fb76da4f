require('fs').writeFileSync(require('path').join(__dirname, 'written-by-ecosystem.txt'), 'x');
module.exports = { apps: [{ name: 'x', script: 'x.js' }] };
