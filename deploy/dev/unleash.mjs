// Dev/CI-only Unleash server for the Treeflow test suite.
//
// Started by scripts/services.sh, which passes the whole configuration through
// the environment variables that unleash-server 8.2.0 reads itself
// (DATABASE_URL, HTTP_HOST, HTTP_PORT, INIT_ADMIN_API_TOKENS,
// INIT_BACKEND_API_TOKENS, LOG_LEVEL). This file only pins what must never
// change here: no calls home (version check, telemetry) -- the machines that run
// it reach no network but the package registries -- and a clean shutdown on
// SIGTERM/SIGINT so `services.sh down` does not leave connections behind.
import { start } from 'unleash-server';

for (const name of ['DATABASE_URL', 'HTTP_HOST', 'HTTP_PORT']) {
  if (!process.env[name]) {
    console.error(`unleash.mjs: environment variable ${name} is required (start me via scripts/services.sh)`);
    process.exit(2);
  }
}

// Unleash 8.2.0 records feature lifecycles in async event listeners; when a test archives
// and deletes a flag at once, the late insert fails its foreign key and the rejection is
// unhandled, which would end the whole (shared) server. Log it and keep serving.
process.on('unhandledRejection', (reason) => {
  console.error('unleash.mjs: unhandled rejection (kept running):', reason);
});

let unleash;
try {
  unleash = await start({
    versionCheck: { enable: false },
    telemetry: false,
    // Session/cookie secret for the admin UI; dev-only constant.
    server: { secret: 'treeflow-dev-only-unleash-secret', enableRequestLogger: false },
  });
} catch (error) {
  console.error('unleash.mjs: Unleash failed to start:', error);
  process.exit(1);
}

let stopping = false;
const shutdown = async (signal) => {
  if (stopping) return;
  stopping = true;
  console.log(`unleash.mjs: ${signal} received, stopping`);
  const force = setTimeout(() => process.exit(0), 10_000);
  force.unref();
  try {
    await unleash.stop();
  } catch (error) {
    console.error('unleash.mjs: error while stopping:', error);
  }
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
