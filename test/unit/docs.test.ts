/** The documents are kept from the same sources as the code: every error code and every variable is documented. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { ERROR_CATALOGUE } from '../../src/errors.js';

const read = (p: string) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');

test('every error code of the catalogue is documented in docs/protocol.md or docs/api.md', () => {
  const docs = read('docs/protocol.md') + read('docs/api.md');
  for (const code of Object.keys(ERROR_CATALOGUE)) assert.ok(docs.includes(`\`${code}\``), code);
});

test('every configuration variable has a row in the README table', () => {
  const readme = read('README.md');
  for (const v of CONFIG_VARIABLES) assert.match(readme, new RegExp(`^\\| \`${v}\` \\|`, 'm'), v);
});
