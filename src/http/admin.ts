// Admin routes (a fastify plugin): trigger a job and read a run's status.
//   POST /admin/jobs/:name      JSON parameters -> 202 {runId} | 400 {reasons} | 404 | 409
//   GET  /admin/jobs/runs/:id   -> 200 run | 404
//   GET  /admin/jobs            -> 200 jobs with schedules
// Every route needs `Authorization: Bearer <ADMIN_TOKEN>` (401 otherwise). The token is compared
// in constant time over SHA-256 digests (equal length whatever was sent).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { IngestError } from '../errors.ts';
import { JobParamsError, type Scheduler } from '../scheduler/types.ts';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export const adminRoutes: FastifyPluginAsync<{ scheduler: Scheduler; adminToken: string }> = async (app, opts) => {
  const { scheduler } = opts;
  const expected = digest(opts.adminToken);
  const authorized = (req: FastifyRequest) => {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h) : null;
    return timingSafeEqual(digest(m?.[1] ?? ''), expected) && Boolean(m);
  };

  app.addHook('onRequest', async (req, reply) => {
    if (!authorized(req)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized: a valid bearer token is required' });
    }
  });

  app.get('/admin/jobs', async () => ({ jobs: scheduler.jobs() }));

  app.post<{ Params: { name: string }; Body: unknown }>('/admin/jobs/:name', async (req, reply) => {
    try {
      const { runId } = await scheduler.trigger(req.params.name, req.body ?? {}, 'api');
      return reply.code(202).send({ runId, status: 'running', href: `/admin/jobs/runs/${runId}` });
    } catch (err) {
      if (err instanceof IngestError) {
        if (err instanceof JobParamsError) return reply.code(400).send({ error: err.message, reasons: err.reasons });
        if (err.code === 'E_JOB_UNKNOWN') return reply.code(404).send({ error: err.message });
        if (err.code === 'E_JOB_RUNNING') return reply.code(409).send({ error: err.message });
      }
      throw err;
    }
  });

  app.get<{ Params: { id: string } }>('/admin/jobs/runs/:id', async (req, reply) => {
    const id = Number(req.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) return reply.code(400).send({ error: 'run id must be a positive integer', reasons: ['id: not a positive integer'] });
    const run = await scheduler.getRun(id);
    if (!run) return reply.code(404).send({ error: `no run ${id}` });
    return run;
  });
};
