/**
 * Accounts: sign-up, sign-in, sessions, password changes, API tokens, user search and the admin operations.
 * Session and API-token secrets are random (256 bits), handed out once and stored only as SHA-256 hashes.
 * Revocations are published to the user's layer group so every instance closes the affected sockets at once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ConfabError } from '../errors.js';
import type { ChannelLayer } from '../layer/layer.js';
import { StoreConflictError, type ApiTokenRecord, type Store, type UserRecord } from '../store/store.js';
import type { AccessRechecks } from './access-rechecks.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.js';
import { userPrincipal, type Principal } from './principal.js';
import type { RateLimits } from './rate-limits.js';
import { charCount, parseDisplayName } from './rules.js';
import { userGroup, type UserEvent } from './user-events.js';

/** Username length bounds. */
export const MIN_USERNAME_CHARS = 3;
export const MAX_USERNAME_CHARS = 32;
/** Longest API token name. */
export const MAX_TOKEN_NAME_CHARS = 64;
/** Users returned by one search. */
export const USER_SEARCH_LIMIT = 20;
/** Longest credential secret looked up; ours are 43-47 characters, anything longer is refused unread. */
export const MAX_SECRET_CHARS = 128;
/** API tokens start with this, so a bearer secret says which table to look in (and secret scanners spot it). */
export const API_TOKEN_PREFIX = 'cfb_';

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** SHA-256 of a secret: a stolen database yields no usable session or token. */
export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');
const newSecret = () => randomBytes(32).toString('base64url');

/** Validates a username; each rule has its own message. */
export function checkUsername(raw: unknown): string {
  if (typeof raw !== 'string') throw new ConfabError('bad_username', 'Username must be a string');
  const name = raw.trim();
  const n = charCount(name);
  if (n < MIN_USERNAME_CHARS) {
    throw new ConfabError('bad_username', `Username must have at least ${MIN_USERNAME_CHARS} characters`);
  }
  if (n > MAX_USERNAME_CHARS) {
    throw new ConfabError('bad_username', `Username must have at most ${MAX_USERNAME_CHARS} characters`);
  }
  if (!USERNAME.test(name)) {
    throw new ConfabError(
      'bad_username',
      'Username may contain only letters a-z, digits, ".", "_" and "-", and must start with a letter or digit',
    );
  }
  return name;
}

/** Case-insensitive uniqueness: "Ana" and "ana" are the same account. */
export const usernameKey = (name: string) => name.trim().toLowerCase();

/** A new sign-in: the user, the session's id and the secret to put in the cookie (shown once). */
export interface SignedIn {
  user: UserRecord;
  sessionId: number;
  token: string;
  expiresAt: number;
}

/** A session found from its secret; `renewedUntil` is set when the sliding expiry moved (re-send the cookie). */
export interface SessionAuth {
  principal: Principal;
  renewedUntil: number | null;
}

export class AccountService {
  constructor(
    private readonly store: Store,
    private readonly layer: ChannelLayer,
    private readonly limits: RateLimits,
    private readonly sessionTtlMs: number,
    private readonly log: Logger,
    /**
     * Asks every instance to check again when a revocation could not be announced: the instance's one, the one
     * its gateway watches (required, so no caller can hand in one nobody listens to).
     */
    private readonly rechecks: AccessRechecks,
  ) {}

  /** Creates an account (policy checked) and signs it in. */
  async signUp(input: { username: unknown; password: unknown; displayName?: unknown }, ip: string): Promise<SignedIn> {
    const username = checkUsername(input.username);
    const password = checkPasswordPolicy(input.password, username);
    const displayName = this.displayNameOf(input.displayName, username);
    await this.limits.beforeSignUp(ip);
    const user = await this.createUser(username, password, displayName);
    return this.startSession(user);
  }

  /** Admin and sign-up path: an account with a checked password. Throws `username_taken`. */
  async createUser(username: string, password: string, displayName?: string): Promise<UserRecord> {
    const name = checkUsername(username);
    checkPasswordPolicy(password, name);
    try {
      return await this.store.createUser({
        username: name,
        usernameKey: usernameKey(name),
        displayName: this.displayNameOf(displayName, name),
        passwordHash: await hashPassword(password),
        createdAt: Date.now(),
      });
    } catch (err) {
      if (err instanceof StoreConflictError) throw new ConfabError('username_taken', `The username "${name}" is taken`);
      throw err;
    }
  }

  /**
   * Checks the credentials. An unknown user and a wrong password give the same error after the same work
   * (a hash is verified either way). Repeated failures of one account wait longer and longer.
   */
  async signIn(rawUsername: unknown, rawPassword: unknown, ip: string): Promise<SignedIn> {
    const username = typeof rawUsername === 'string' ? rawUsername : '';
    const password = typeof rawPassword === 'string' ? rawPassword : '';
    const key = usernameKey(username).slice(0, MAX_USERNAME_CHARS + 1);
    await this.limits.beforeSignIn(ip, key);
    const user = key.length > 0 ? await this.store.findUserByKey(key) : null;
    const ok = await verifyPassword(user?.passwordHash ?? null, password);
    if (!ok || !user) {
      await this.limits.signInFailed(key);
      throw new ConfabError('bad_credentials');
    }
    await this.limits.signInSucceeded(key);
    return this.startSession(user);
  }

  /**
   * The principal of a session secret, renewing the sliding expiry once half of it has passed (unless `touch`
   * is false: a check again of a credential just used, which must not write).
   */
  async authenticateSession(secret: string, touch = true): Promise<SessionAuth | null> {
    if (secret.length === 0 || secret.length > MAX_SECRET_CHARS) return null;
    const now = Date.now();
    const found = await this.store.findSession(hashSecret(secret), now);
    if (!found) return null;
    const { session, user } = found;
    let renewedUntil: number | null = null;
    if (touch && session.expiresAt - now < this.sessionTtlMs / 2) {
      renewedUntil = now + this.sessionTtlMs;
      await this.store.extendSession(session.id, renewedUntil);
    }
    return { principal: userPrincipal(user, { sessionId: session.id }), renewedUntil };
  }

  /** The principal of an `Authorization: Bearer` secret: an API token, or a session secret (`touch`: as above). */
  async authenticateBearer(secret: string, touch = true): Promise<Principal | null> {
    if (!secret.startsWith(API_TOKEN_PREFIX)) return (await this.authenticateSession(secret, touch))?.principal ?? null;
    if (secret.length > MAX_SECRET_CHARS) return null;
    const found = await this.store.findApiToken(hashSecret(secret));
    if (!found) return null;
    const { token, user } = found;
    if (touch) await this.store.touchApiToken(token.id, Date.now());
    return userPrincipal(user, { tokenId: token.id });
  }

  /** Ends this session now, on every instance. */
  async signOut(principal: Principal): Promise<void> {
    if (principal.sessionId === null || principal.userId === null) return;
    await this.store.deleteSession(principal.sessionId);
    await this.emit(principal.userId, { t: 'revoke', sessionIds: [principal.sessionId] });
  }

  /** Ends every session of the user, on every device and instance. */
  async signOutEverywhere(userId: number): Promise<void> {
    const sessionIds = await this.store.deleteUserSessions(userId);
    if (sessionIds.length > 0) await this.emit(userId, { t: 'revoke', sessionIds });
  }

  /** Changes the password after checking the current one; every session ends and a new one starts. */
  async changePassword(principal: Principal, current: unknown, next: unknown): Promise<SignedIn> {
    const user = principal.userId === null ? null : await this.store.getUser(principal.userId);
    if (!user) throw new ConfabError('unauthenticated');
    const ok = await verifyPassword(user.passwordHash, typeof current === 'string' ? current : '');
    if (!ok) throw new ConfabError('bad_credentials', 'The current password is wrong');
    const password = checkPasswordPolicy(next, user.username);
    await this.store.setPasswordHash(user.id, await hashPassword(password));
    await this.signOutEverywhere(user.id);
    return this.startSession(user);
  }

  /** Admin: sets a new password and ends every session of the user. */
  async resetPassword(username: string, password: string): Promise<UserRecord> {
    const user = await this.requireUser(username);
    checkPasswordPolicy(password, user.username);
    await this.store.setPasswordHash(user.id, await hashPassword(password));
    await this.signOutEverywhere(user.id);
    return user;
  }

  /**
   * Admin: gives or takes away the admin right. An open WebSocket holds the principal of its handshake, so when
   * the right changed every instance is told and closes the user's connections, which come back with the new one
   * (an ex-admin must not keep deleting others' messages over a socket opened before).
   */
  async setAdmin(username: string, isAdmin: boolean): Promise<UserRecord> {
    const user = await this.requireUser(username);
    await this.store.setAdmin(user.id, isAdmin);
    if (user.isAdmin !== isAdmin) await this.emit(user.id, { t: 'permissions' });
    return { ...user, isAdmin };
  }

  listUsers(): Promise<UserRecord[]> {
    return this.store.listUsers();
  }

  /** Users whose username or display name starts with `q`. */
  async searchUsers(q: unknown): Promise<UserRecord[]> {
    if (typeof q !== 'string' || q.trim().length === 0) return [];
    return this.store.searchUsers(q.trim().slice(0, MAX_USERNAME_CHARS), USER_SEARCH_LIMIT);
  }

  async getUser(userId: number): Promise<UserRecord> {
    const user = await this.store.getUser(userId);
    if (!user) throw new ConfabError('not_found', 'No such user');
    return user;
  }

  /** Keeps the user's read status private (others then see "delivered" only) or shares it again. */
  async setPrivateReceipts(userId: number, on: boolean): Promise<UserRecord> {
    await this.store.setPrivateReceipts(userId, on);
    return this.getUser(userId);
  }

  async requireUser(username: string): Promise<UserRecord> {
    const user = await this.store.findUserByKey(usernameKey(username));
    if (!user) throw new ConfabError('not_found', `No user "${username}"`);
    return user;
  }

  /** Creates a personal API token; the secret is returned once and never again. */
  async createApiToken(userId: number, rawName: unknown): Promise<{ token: ApiTokenRecord; secret: string }> {
    const name = typeof rawName === 'string' ? rawName.trim() : '';
    if (name.length === 0 || charCount(name) > MAX_TOKEN_NAME_CHARS) {
      throw new ConfabError('bad_request', `Token name must have 1 to ${MAX_TOKEN_NAME_CHARS} characters`);
    }
    const secret = `${API_TOKEN_PREFIX}${newSecret()}`;
    const token = await this.store.createApiToken(hashSecret(secret), userId, name, Date.now());
    return { token, secret };
  }

  listApiTokens(userId: number): Promise<ApiTokenRecord[]> {
    return this.store.listApiTokens(userId);
  }

  /** Revokes a token of the user; connections opened with it close at once. */
  async revokeApiToken(userId: number, tokenId: number): Promise<void> {
    if (!(await this.store.deleteApiToken(userId, tokenId))) throw new ConfabError('not_found', 'No such token');
    await this.emit(userId, { t: 'revoke_token', tokenId });
  }

  private async startSession(user: UserRecord): Promise<SignedIn> {
    const token = newSecret();
    const now = Date.now();
    const session = await this.store.createSession(hashSecret(token), user.id, now, now + this.sessionTtlMs);
    return { user, sessionId: session.id, token, expiresAt: session.expiresAt };
  }

  private displayNameOf(raw: unknown, username: string): string {
    if (raw === undefined || raw === null || raw === '') return username;
    const name = parseDisplayName(typeof raw === 'string' ? raw : null);
    if (!name) {
      throw new ConfabError(
        'bad_request',
        'Display name must have 1 to 32 letters, digits, single spaces, ".", "-" or "_"',
      );
    }
    return name;
  }

  /**
   * Tells every instance. The change is already committed, so a channel-layer failure does not fail the
   * operation: the store refuses a revoked session at its next request or handshake anyway, and the open
   * sockets are found by the recheck every instance is then asked for (access-rechecks.ts).
   */
  private async emit(userId: number, event: UserEvent): Promise<void> {
    await this.layer.publish(userGroup(userId), JSON.stringify(event)).catch((err: unknown) => {
      this.log.warn({ err, userId, event: event.t }, 'could not announce a revocation; every instance will be asked to check again');
      this.rechecks.missed();
    });
  }
}
