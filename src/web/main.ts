/** Entry point of the web client (bundled to dist/web/app.js by scripts/build.mjs). */
import { App } from './app.js';

// A module script runs after the document is parsed, so every element of index.html exists here.
new App().start();
