module.exports = { services: [] };
