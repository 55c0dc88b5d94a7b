/**
 * Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the store answers and the channel layer
 * delivers). A deaf instance (Redis away or its subscription silently dead) is not ready: a load balancer should
 * send new connections elsewhere until it has recovered.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ChannelLayer } from '../../layer/layer.js';
import type { Store } from '../../store/store.js';

export const healthRoutes: FastifyPluginAsync<{ store: Store; layer: ChannelLayer }> = async (app, { store, layer }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const problems: string[] = [];
    try {
      await store.ping();
    } catch (err) {
      request.log.warn({ err }, 'readiness: store unavailable');
      problems.push('store');
    }
    if (!layer.healthy()) problems.push('channel_layer');
    if (problems.length > 0) return reply.status(503).send({ status: 'unavailable', problems });
    return { status: 'ready' };
  });
};
