// Node-RED settings for bench/peers.sh: no editor, quiet logs, loopback.
module.exports = {
  uiHost: "127.0.0.1",
  httpAdminRoot: false,
  flowFile: "flows.json",
  logging: { console: { level: "warn", metrics: false, audit: false } },
};
