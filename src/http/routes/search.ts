/**
 * GET /api/search: message search over every room the user may read (docs/api.md, "Search"). Decodes the
 * query string and hands it to the search service; results carry the message payload, its room and the
 * ranges of the body that matched.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SearchService } from '../../chat/search.js';
import { ConfabError } from '../../errors.js';
import { messagePayload } from '../../wire.js';
import { requireUser } from '../auth.js';

/** One value of a query-string field (a field given twice is refused rather than guessed). */
function field(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ConfabError('bad_request', `Give "${name}" once`);
  return v;
}

/** A non-negative integer field, or `bad_request`. */
function intField(q: Record<string, unknown>, name: string): number | undefined {
  const raw = field(q, name);
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new ConfabError('bad_request', `"${name}" must be a non-negative integer`);
  }
  return Number(raw);
}

/** An optional text field; empty counts as absent (an HTML form sends empty selects). */
const textField = (q: Record<string, unknown>, name: string) => field(q, name) || undefined;

export const searchRoutes: FastifyPluginAsync<{ search: SearchService }> = async (app, { search }) => {
  app.addHook('preHandler', requireUser);

  app.get('/search', async (request) => {
    const q = request.query as Record<string, unknown>;
    const page = await search.search(request.principal!, {
      q: field(q, 'q') ?? '',
      roomId: intField(q, 'room'),
      author: textField(q, 'author'),
      after: textField(q, 'after'),
      before: textField(q, 'before'),
      sort: textField(q, 'sort'),
      limit: intField(q, 'limit'),
      offset: intField(q, 'offset'),
    });
    return {
      results: page.results.map((r) => ({
        message: messagePayload(r.message),
        room: { id: r.room.id, name: r.room.name, kind: r.room.kind },
        highlights: r.highlights,
      })),
      hasMore: page.hasMore,
    };
  });
};
