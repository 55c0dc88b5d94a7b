/**
 * Entry point of `npm start`: reads the configuration (environment and an optional .env), starts Confab and
 * stops it gracefully on SIGINT / SIGTERM.
 */
import 'dotenv/config';
import { ConfigError, loadConfig } from './config.js';
import { startConfab } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const confab = await startConfab(config);
  const stop = (signal: string) => {
    confab.log.info({ signal }, 'stopping');
    confab.close().then(
      () => process.exit(0),
      (err: unknown) => {
        confab.log.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('Confab failed to start:', err);
  process.exit(1);
});
