/**
 * `npm run admin -- <command>`: account administration from the command line, against the database of
 * DATABASE_URL (read from the environment or .env, as the server does).
 *
 *   create-user <username> [--display-name NAME] [--admin] [--password-stdin]
 *   reset-password <username> [--password-stdin]
 *   make-admin <username> | unmake-admin <username>
 *   list-users | list-rooms
 *
 * Without --password-stdin a strong random password is generated and printed once. With REDIS_URL set, a
 * password reset is announced to the running instances like one made over HTTP: they close the user's open
 * WebSockets (without it, the server refuses the ended sessions at their next request or handshake only).
 */
import 'dotenv/config';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { destination, pino } from 'pino';
import { AccessRechecks } from './chat/access-rechecks.js';
import { AccountService } from './chat/accounts.js';
import { RateLimits } from './chat/rate-limits.js';
import { ConfigError, loadConfig } from './config.js';
import { ConfabError } from './errors.js';
import { openLayer } from './layer/open-layer.js';
import { openStore } from './store/open-store.js';

/**
 * How long the tool waits, before exiting, for a revocation it could not announce at once (its Redis connection
 * still being made) to get through as a recheck of every instance's connections.
 */
export const ADMIN_ANNOUNCE_WAIT_MS = 10_000;

const USAGE = `usage: npm run admin -- <command>
  create-user <username> [--display-name NAME] [--admin] [--password-stdin]
  reset-password <username> [--password-stdin]
  make-admin <username>
  unmake-admin <username>
  list-users
  list-rooms`;

async function readPassword(fromStdin: boolean): Promise<{ password: string; generated: boolean }> {
  if (!fromStdin) return { password: randomBytes(18).toString('base64url'), generated: true };
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  return { password: input.replace(/\r?\n$/, ''), generated: false };
}

async function run(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'display-name': { type: 'string' },
      admin: { type: 'boolean', default: false },
      'password-stdin': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, name] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const config = loadConfig(process.env);
  const store = await openStore(config);
  await store.migrate();
  // Logs go to stderr: stdout is the tool's answer.
  const log = pino({ level: config.logLevel }, destination(2));
  // Sessions are deleted in the database; a running instance refuses them at their next use, and with Redis it
  // hears of it at once and closes their sockets (a publish that fails becomes a recheck of every instance).
  const layer = openLayer(config, log);
  const rechecks = new AccessRechecks(layer, log);
  const accounts = new AccountService(store, layer, new RateLimits(1, 1000), config.sessionTtlMs, log, rechecks);
  const needName = () => {
    if (!name) throw new ConfabError('bad_username', `${command} needs a username`);
    return name;
  };
  try {
    switch (command) {
      case 'create-user': {
        const { password, generated } = await readPassword(values['password-stdin']);
        const user = await accounts.createUser(needName(), password, values['display-name']);
        if (values.admin) await accounts.setAdmin(user.username, true);
        console.log(`created user ${user.username} (id ${user.id})${values.admin ? ', admin' : ''}`);
        if (generated) console.log(`password (shown once): ${password}`);
        return 0;
      }
      case 'reset-password': {
        const { password, generated } = await readPassword(values['password-stdin']);
        const user = await accounts.resetPassword(needName(), password);
        await store.bumpAdminEpoch();
        console.log(`password of ${user.username} reset; every session of theirs has ended`);
        if (generated) console.log(`new password (shown once): ${password}`);
        return 0;
      }
      case 'make-admin':
      case 'unmake-admin': {
        const user = await accounts.setAdmin(needName(), command === 'make-admin');
        await store.bumpAdminEpoch(); // a right given takes effect on open sockets too, as with REDIS_URL
        console.log(`${user.username} is ${user.isAdmin ? 'now an admin' : 'no longer an admin'}`);
        return 0;
      }
      case 'list-users': {
        for (const u of await accounts.listUsers()) {
          console.log([u.id, u.username, u.displayName, u.isAdmin ? 'admin' : '', new Date(u.createdAt).toISOString()].join('\t'));
        }
        return 0;
      }
      case 'list-rooms': {
        for (const r of await store.listAllRooms()) {
          console.log([r.id, r.kind, r.name, `${r.lastSeq} messages`].join('\t'));
        }
        return 0;
      }
      default:
        console.error(`unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } finally {
    await rechecks.settled(ADMIN_ANNOUNCE_WAIT_MS);
    await rechecks.close();
    await layer.close();
    await store.close();
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfabError || err instanceof ConfigError) console.error(err.message);
    else console.error(err);
    process.exit(1);
  },
);
