/**
 * Changes to sent messages: edits, deletes and reactions. Each is checked (access, then who may do it), stored
 * as the room's next `seq` row together with the change itself, and published like a message, so live
 * clients and resuming ones get it in order (see MessageRecord in store/store.ts).
 *
 * Who may do what (what Slack, Zulip and Mattermost users expect): only the author edits; the author, the
 * room's owner or a site admin deletes; anyone who may read the room reacts. A message one may not see answers
 * `not_found`, like one that does not exist.
 */
import type { Logger } from 'pino';
import { ConfabError } from '../errors.js';
import type { AttachmentRecord, ChangeResult, MessageRecord, RoomRecord, Store } from '../store/store.js';
import type { ChatLimits, ChatService } from './chat-service.js';
import type { Principal } from './principal.js';
import { checkBody, checkEmoji } from './rules.js';

/** Most different emoji on one message; a further one is refused (existing ones may still be added to). */
export const MAX_REACTION_KINDS = 20;

/** Deletes the stored bytes of attachments whose message was deleted (the attachment storage). */
export interface AttachmentRemover {
  remove(attachments: AttachmentRecord[]): Promise<void>;
}

/** The outcome a client is told: the message as it stands now, and the change's `seq` (null: nothing changed). */
export interface ChangeOutcome {
  message: MessageRecord;
  seq: number | null;
}

export class MessageChanges {
  constructor(
    private readonly store: Store,
    private readonly chat: ChatService,
    private readonly limits: ChatLimits,
    private readonly log: Logger,
    private readonly files: AttachmentRemover | null = null,
  ) {}

  /** A message of a readable room (deleted ones too: they show as placeholders). */
  async get(p: Principal, roomId: number, messageId: number): Promise<MessageRecord> {
    await this.chat.accessibleRoom(p, roomId);
    return this.found(await this.store.getMessage(roomId, messageId));
  }

  /** Replaces the body of one's own message; mentions are resolved again (no new notifications). */
  async edit(p: Principal, roomId: number, messageId: number, rawBody: string): Promise<ChangeOutcome> {
    const userId = this.signedIn(p);
    const room = await this.chat.accessibleRoom(p, roomId);
    const message = this.found(await this.store.getMessage(roomId, messageId));
    if (message.deletedAt !== null) throw new ConfabError('not_found', 'That message was deleted');
    if (message.authorId !== userId) throw new ConfabError('forbidden', 'You can only edit your own messages');
    const body = checkBody(rawBody, this.limits.maxMessageChars, message.attachments.length > 0);
    await this.chat.rateLimit(p);
    const mentions = await this.chat.resolveMentions(p, room, body);
    const result = await this.store.editMessage({
      roomId,
      messageId,
      body,
      mentions,
      actorId: userId,
      actor: p.displayName,
      at: Date.now(),
    });
    return this.settle(result, 'That message was deleted');
  }

  /** Deletes a message for everyone: its text, reactions and files are gone from storage. */
  async delete(p: Principal, roomId: number, messageId: number): Promise<ChangeOutcome> {
    const userId = this.signedIn(p);
    const room = await this.chat.readableRoom(p, roomId);
    const message = this.found(await this.store.getMessage(roomId, messageId));
    if (!this.mayDelete(p, room, message)) throw new ConfabError('forbidden', 'You can only delete your own messages');
    const result = await this.store.deleteMessage({ roomId, messageId, actorId: userId, actor: p.displayName, at: Date.now() });
    const outcome = this.settle(result, 'No such message');
    if (result && result.removedAttachments.length > 0 && this.files) {
      // After the commit: a failure here leaves orphaned bytes (logged), never a message pointing at nothing.
      this.files.remove(result.removedAttachments).catch((err: unknown) => {
        this.log.warn({ err, messageId }, 'could not remove the files of a deleted message');
      });
    }
    return outcome;
  }

  /** Puts (`on`) or takes back the user's emoji on a message; doing it twice changes nothing the second time. */
  async react(p: Principal, roomId: number, messageId: number, rawEmoji: unknown, on: boolean): Promise<ChangeOutcome> {
    const userId = this.signedIn(p);
    const emoji = checkEmoji(rawEmoji);
    await this.chat.accessibleRoom(p, roomId);
    const message = this.found(await this.store.getMessage(roomId, messageId));
    if (message.deletedAt !== null) throw new ConfabError('not_found', 'That message was deleted');
    if (on && message.reactions.length >= MAX_REACTION_KINDS && !message.reactions.some((r) => r.emoji === emoji)) {
      throw new ConfabError('bad_request', `A message has at most ${MAX_REACTION_KINDS} different reactions`);
    }
    await this.chat.rateLimit(p);
    const result = await this.store.setReaction({ roomId, messageId, userId, actor: p.displayName, emoji, on, at: Date.now() });
    return this.settle(result, 'That message was deleted');
  }

  /** Whether `p` may delete the message: its author, the room's owner, or a site admin. */
  mayDelete(p: Principal, room: RoomRecord, message: MessageRecord): boolean {
    if (p.userId === null) return false;
    return message.authorId === p.userId || room.ownerId === p.userId || p.isAdmin;
  }

  /** Publishes the change (when there was one) and tells the caller where things stand. */
  private settle(result: ChangeResult | null, goneMessage: string): ChangeOutcome {
    // Null: the message was deleted (or vanished) between the check and the change.
    if (!result) throw new ConfabError('not_found', goneMessage);
    if (result.event) this.chat.announce(result.event);
    return { message: result.message, seq: result.event?.seq ?? null };
  }

  private found(message: MessageRecord | null): MessageRecord {
    if (!message) throw new ConfabError('not_found', 'No such message');
    return message;
  }

  private signedIn(p: Principal): number {
    if (p.userId === null) throw new ConfabError('unauthenticated');
    return p.userId;
  }
}
