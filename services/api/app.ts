import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { AppContext } from '../core/context';
import { opsHandlers } from '../core/ops-http';

/** One error shape for every failure; never a stack trace. */
export function errorBody(code: string, message: string, requestId: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }), requestId } };
}

const requestId: RequestHandler = (req, res, next) => {
  const incoming = req.get('x-request-id');
  const id = incoming && /^[\w-]{1,64}$/.test(incoming) ? incoming : randomUUID();
  res.locals.requestId = id;
  res.set('x-request-id', id);
  next();
};

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  const ops = opsHandlers(ctx.readiness, ctx.metrics.registry);
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestId);
  app.use(helmet());

  app.use((req, res, next) => {
    const end = ctx.metrics.httpRequestDuration.startTimer({ method: req.method });
    res.on('finish', () => end({ route: req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched', status: String(res.statusCode) }));
    next();
  });

  app.get('/health', ops.health);
  app.get('/ready', ops.ready);
  app.get('/metrics', ops.metrics);

  app.use('/api/v1', express.json({ limit: '100kb' }));

  app.use((req, res) => {
    res.status(404).json(errorBody('not_found', `No route for ${req.method} ${req.path}`, res.locals.requestId));
  });

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) ctx.log.error('request failed', { err, method: req.method, path: req.path, requestId: res.locals.requestId });
    const code = status === 500 ? 'internal' : err.type === 'entity.parse.failed' ? 'invalid_json' : err.type === 'entity.too.large' ? 'payload_too_large' : 'bad_request';
    const message = status === 500 ? 'Internal error' : err.expose && typeof err.message === 'string' ? err.message : 'Bad request';
    if (!res.headersSent) res.status(status).json(errorBody(code, message, res.locals.requestId));
  };
  app.use(onError);
  return app;
}
