/** Entry point of the web client (bundled to dist/web/app.js by scripts/build.mjs). */
import { ApiError, fetchMe } from './api.js';
import { App } from './app.js';
import { showAuthScreen } from './auth-view.js';
import { byId } from './dom.js';
import type { Me } from './protocol.js';

/** How long to wait before asking again when the server did not answer who we are. */
const BOOT_RETRY_MS = 3000;

// A module script runs after the document is parsed, so every element of index.html exists here.
async function boot(): Promise<void> {
  let me: Me | null;
  try {
    me = await fetchMe();
  } catch (err) {
    // The server is unreachable: say so, and try again shortly (nothing else can be shown without it).
    const message = err instanceof ApiError ? err.message : 'Cannot reach the server.';
    byId('auth-screen').hidden = false;
    byId('signin-error').textContent = `${message} Retrying…`;
    setTimeout(() => void boot(), BOOT_RETRY_MS);
    return;
  }
  me ??= await showAuthScreen();
  byId('auth-screen').hidden = true;
  new App(me).start();
}

void boot();
