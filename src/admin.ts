/**
 * `npm run admin -- <command>`: account administration from the command line, against the database of
 * DATABASE_URL (read from the environment or .env, as the server does).
 *
 *   create-user <username> [--display-name NAME] [--admin] [--password-stdin]
 *   reset-password <username> [--password-stdin]
 *   make-admin <username> | unmake-admin <username>
 *   list-users | list-rooms
 *
 * Without --password-stdin a strong random password is generated and printed once.
 */
import 'dotenv/config';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AccountService } from './chat/accounts.js';
import { RateLimits } from './chat/rate-limits.js';
import { ConfigError, loadConfig } from './config.js';
import { ConfabError } from './errors.js';
import { MemoryLayer } from './layer/memory-layer.js';
import { openStore } from './store/open-store.js';

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
  // Sessions are deleted in the database; a running instance refuses them at their next use.
  const accounts = new AccountService(store, new MemoryLayer(), new RateLimits(1, 1000), config.sessionTtlMs);
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
        console.log(`password of ${user.username} reset; every session of theirs has ended`);
        if (generated) console.log(`new password (shown once): ${password}`);
        return 0;
      }
      case 'make-admin':
      case 'unmake-admin': {
        const user = await accounts.setAdmin(needName(), command === 'make-admin');
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
