import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ConflictError, InvalidJobError, JobNotFoundError } from '../../domain/errors.js';
import { ownedRepository, parseImageReference } from '../../domain/image-reference.js';
import { isJobFinished, type Job } from '../../domain/job.js';
import { parseJobInput, type JobSource } from '../../domain/job-input.js';
import { nextRunAfter } from '../../domain/schedule.js';
import { printable } from '../../domain/names.js';
import { rowFor } from '../colour-scope.js';
import { jobDoc, jobLogsDoc, jobSummaryDoc } from '../job-documents.js';
import { CreateJobBody, CreateJobResponse, JobDoc, JobListQuery, JobLogsDoc, JobLogsQuery, JobParams, JobSummaryDoc } from '../job-schemas.js';
import { sendLogStream } from '../log-stream.js';
import type { ApiDeps } from '../ports.js';
import { ErrorBody } from '../schemas.js';
import { actor, boundedInt } from './services.js';

const errors = { 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody };
const EVENTS_IN_STATUS = 50;
const DEFAULT_LIST = 100;
const DEFAULT_TAIL = 100;
const MAX_TAIL = 100_000;

/** Jobs: work that runs to completion (DESIGN.md "Jobs"). A project token sees only its own. */
export function jobRoutes(deps: ApiDeps): FastifyPluginAsyncTypebox {
  const { store, auth } = deps;

  function jobOf(project: string, id: string): Job {
    const number = /^\d{1,12}$/.test(id) ? Number(id) : NaN;
    const job = Number.isSafeInteger(number) ? store.jobs.find(project, number) : null;
    if (!job) throw new JobNotFoundError(printable(id));
    return job;
  }

  function sourceOf(project: string, name: string): JobSource {
    const service = store.services.find(project, name);
    if (!service) throw new InvalidJobError(`No service '${printable(name)}' in this project to run the job with`);
    if (service.status === 'DRAINING') throw new InvalidJobError(`Service '${service.name}' is being deleted`);
    // A service with colours runs its jobs with its live colour's revision.
    const row = rowFor(store, service, undefined);
    const definition = row.currentRevision === null ? null : (store.revisions.get(row.id, row.currentRevision)?.definition ?? null);
    if (!definition) throw new InvalidJobError(`Service '${service.name}' serves no revision yet: deploy it first, or run with 'image'`);
    return { name: service.name, definition };
  }

  return async (app) => {
    app.post(
      '/jobs',
      { schema: { tags: ['jobs'], summary: 'Queue a job (or a schedule of runs)', body: CreateJobBody, response: { 201: CreateJobResponse, ...errors } } },
      async (request, reply) => {
        const project = auth.requireProject(request);
        const body = request.body;
        const source = body.service === undefined ? null : sourceOf(project, body.service);
        const { spec, schedule } = parseJobInput(body, source);
        if (spec.image !== null) ownedRepository(project, parseImageReference(spec.image), deps.ownRegistry);
        const capacity = await deps.capacityMiB();
        if (spec.memoryReservationMiB > capacity) {
          deps.metrics.admissionRefused('job');
          throw new InvalidJobError(`'memory-reservation' ${spec.memoryReservationMiB} MiB can never fit: berth may reserve ${capacity} MiB in all`);
        }
        const serviceId = source === null ? null : (store.services.find(project, source.name)?.id ?? null);
        const job = store.transaction(() => {
          const nextRun = schedule === null ? null : nextRunAfter(schedule, new Date()).getTime();
          const created = store.jobs.create({ project, serviceId, scheduleId: null, spec, schedule, nextRun });
          store.jobs.addEvent(created.id, schedule === null ? 'queued' : `scheduled (${schedule}); first run at ${new Date(nextRun as number).toISOString()}`);
          deps.audit.record({
            actor: actor(project, request.ip),
            action: 'job.create',
            target: `${project}/job-${created.id}`,
            // Names, not values: arguments and variables may hold secrets.
            detail: `${spec.service === null ? `image ${spec.image}` : `service ${spec.service}`}, command of ${spec.command?.length ?? 0} word(s), env [${spec.environment.map((e) => e.name).join(', ')}], ${spec.memoryReservationMiB}/${spec.memoryLimitMiB} MiB${schedule === null ? '' : `, schedule ${schedule}`}`,
          });
          return created;
        });
        deps.desiredStateChanged();
        return reply.status(201).send({ id: job.id, status: job.status });
      },
    );

    app.get(
      '/jobs',
      { schema: { tags: ['jobs'], summary: 'The project’s jobs, newest first', querystring: JobListQuery, response: { 200: Type.Array(JobSummaryDoc), ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        const limit = boundedInt(request.query.limit, DEFAULT_LIST, 1000, 'limit');
        return store.jobs.listByProject(project, limit).map(jobSummaryDoc);
      },
    );

    app.get(
      '/jobs/:id',
      { schema: { tags: ['jobs'], summary: 'A job: status, attempts, progress, events', params: JobParams, response: { 200: JobDoc, ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        const job = jobOf(project, request.params.id);
        return jobDoc(job, store.jobs.attempts(job.id), store.jobs.events(job.id, EVENTS_IN_STATUS));
      },
    );

    app.get(
      '/jobs/:id/logs',
      {
        schema: { tags: ['jobs'], summary: 'The last lines of each attempt, newest attempt first', params: JobParams, querystring: JobLogsQuery, response: { 200: JobLogsDoc, ...errors } },
      },
      async (request) => {
        const project = auth.requireProject(request);
        const job = jobOf(project, request.params.id);
        return jobLogsDoc(await deps.jobs.logs(job.id, boundedInt(request.query.tail, DEFAULT_TAIL, MAX_TAIL, 'tail')));
      },
    );

    app.get(
      '/jobs/:id/logs/stream',
      {
        schema: {
          tags: ['jobs'],
          summary: 'Follow the job’s output as NDJSON lines {stream_name, time, message}; ends when the job has finished',
          params: JobParams,
          querystring: JobLogsQuery,
          produces: ['application/x-ndjson'],
          response: { 200: Type.Unknown({ description: 'NDJSON lines, sent as they are written' }), ...errors },
        },
      },
      async (request, reply) => {
        const project = auth.requireProject(request);
        const job = jobOf(project, request.params.id);
        const tail = boundedInt(request.query.tail, MAX_TAIL, MAX_TAIL, 'tail');
        return sendLogStream(request, reply, (follow) => deps.jobs.follow(job.id, { tail, ...follow }), 'a job’s output');
      },
    );

    app.post(
      '/jobs/:id/cancel',
      { schema: { tags: ['jobs'], summary: 'Cancel a job: a queued one at once, a running one’s task is stopped', params: JobParams, response: { 200: JobDoc, ...errors } } },
      async (request) => {
        const project = auth.requireProject(request);
        const job = jobOf(project, request.params.id);
        if (isJobFinished(job.status)) throw new ConflictError(`Job ${job.id} has already ${job.status === 'cancelled' ? 'been cancelled' : `ended ${job.status}`}`);
        store.transaction(() => {
          store.jobs.requestCancel(job.id);
          store.jobs.addEvent(job.id, 'cancel requested');
          deps.audit.record({ actor: actor(project, request.ip), action: 'job.cancel', target: `${project}/job-${job.id}`, detail: null });
        });
        deps.desiredStateChanged();
        const now = store.jobs.get(job.id) as Job;
        return jobDoc(now, store.jobs.attempts(job.id), store.jobs.events(job.id, EVENTS_IN_STATUS));
      },
    );
  };
}
