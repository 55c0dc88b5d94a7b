/**
 * Jump to a message: open its room and show it in its place in history (older pages are loaded until it is
 * held), scrolled into view and highlighted for a moment. Used by reply quotes and by search results.
 *
 * The app owns the rooms, the socket and the timeline, so it registers the implementation when it starts
 * (`setJumpHandler`); other modules only import `jumpToMessage`, with no dependency on the app.
 */

/** Opens room `roomId` at message `seq`; resolves once it is on screen (or rejects when it cannot be shown). */
export type JumpHandler = (roomId: number, seq: number) => Promise<void>;

let handler: JumpHandler | null = null;

/** Called once by the app at start. */
export function setJumpHandler(h: JumpHandler): void {
  handler = h;
}

/**
 * Opens the room and shows message `seq` in its place in history, loading older pages as needed, scrolls to it
 * and highlights it briefly. Rejects when the room is not one of the user's or the message does not exist.
 */
export function jumpToMessage(roomId: number, seq: number): Promise<void> {
  if (handler === null) return Promise.reject(new Error('the app has not started'));
  return handler(roomId, seq);
}
