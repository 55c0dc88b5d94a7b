/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the store answers too). */
import type { FastifyPluginAsync } from 'fastify';
import type { Store } from '../../store/store.js';

export const healthRoutes: FastifyPluginAsync<{ store: Store }> = async (app, { store }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch (err) {
      request.log.warn({ err }, 'readiness check failed');
      return reply.status(503).send({ status: 'unavailable', reason: 'store' });
    }
  });
};
