// Builds what `npm start` serves: the server bundle (dist/server) and the web client (dist/web).
// esbuild is fast enough (well under a second) that `npm start` can always build first.
import { build } from 'esbuild';
import { cp, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, 'dist');

await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'web'), { recursive: true });

await Promise.all([
  build({
    entryPoints: [path.join(root, 'src/main.ts'), path.join(root, 'src/admin.ts')],
    outdir: path.join(out, 'server'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  }),
  build({
    entryPoints: [path.join(root, 'src/web/main.ts')],
    outfile: path.join(out, 'web/app.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  }),
  cp(path.join(root, 'src/web/static'), path.join(out, 'web'), { recursive: true }),
]);
