/** `GET /metrics`: the instance's metrics in Prometheus' text format. */
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../metrics.js';

export const metricsRoutes: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
};
