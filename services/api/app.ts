import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import cookieParser from 'cookie-parser';
import cors from 'cors';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { AppContext } from '../core/context';
import { Prisma } from '../core/db';
import { opsHandlers } from '../core/ops-http';
import { authCache, authenticate, csrfCheck, CSRF_HEADER, loginLimiters } from './auth';
import { BULL_BOARD_PATH, bullBoard } from './bull-board';
import { entityCache, type EntityCache } from './cache';
import type { ApiDeps } from './deps';
import { ApiError, errorBody } from './errors';
import { observeRequests } from './observe';
import { apiRateLimit } from './rate-limit';
import { openApiDocument } from './openapi';
import { setupRoutes } from './owner-setup';
import { apiQueues, type ApiQueues } from './queues';
import { mountRoutes, type AnyRoute } from './routing';
import { adminRoutes } from './routes/admin';
import { authRoutes } from './routes/auth';
import { botRoutes } from './routes/bots';
import { exportRoutes } from './routes/exports';
import { channelRoutes, groupRoutes } from './routes/groups';
import { logRoutes } from './routes/logs';
import { statsRoutes } from './routes/stats';
import { GUARD_WEB_APP_PATH, webAppRouter } from './web-app';

export { errorBody };

/**
 * The headers a middleware sets when they depend only on its options, never on the request (helmet's): worked
 * out once, so each response gets them from a list instead of through helmet's dozen middlewares.
 */
function fixedHeaders(middleware: RequestHandler): [string, string][] {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => void headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  middleware({} as Request, recorder as unknown as Response, () => {});
  return headers;
}

const REQUEST_ID = /^[\w-]{1,64}$/;

/** Every response: its request id (the caller's, when well-formed) and helmet's security headers. */
function requestIdAndSecurityHeaders(): RequestHandler {
  const security = fixedHeaders(helmet());
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    for (const [name, value] of security) res.setHeader(name, value);
    next();
  };
}

/** Every /api/v1 route, in the order they are mounted and documented. */
export function apiRoutes(deps: ApiDeps): AnyRoute[] {
  return [
    ...authRoutes(deps),
    ...setupRoutes(deps),
    ...adminRoutes(deps),
    ...botRoutes(deps),
    ...groupRoutes(deps),
    ...channelRoutes(deps),
    ...logRoutes(deps),
    ...statsRoutes(deps),
    ...exportRoutes(deps),
  ];
}

/**
 * The SQLSTATE of a PostgreSQL error, however it arrives: node-postgres' error (`code`), Prisma's raw-query error
 * (`meta.code`), or Prisma's driver-adapter error (in its cause, or only in the message: "Code: `22021`").
 */
export function sqlState(err: unknown): string | undefined {
  const e = err as {
    code?: unknown;
    meta?: { code?: unknown; driverAdapterError?: { cause?: { originalCode?: unknown } } };
    cause?: { code?: unknown; originalCode?: unknown };
    message?: unknown;
  };
  const candidates = [
    e?.meta?.code,
    e?.meta?.driverAdapterError?.cause?.originalCode,
    e?.cause?.originalCode,
    e?.cause?.code,
    e?.code,
  ];
  const found = candidates.find(
    (c): c is string => typeof c === 'string' && /^[0-9A-Z]{5}$/.test(c) && !c.startsWith('P'),
  );
  return found ?? (typeof e?.message === 'string' ? /Code: `([0-9A-Z]{5})`/.exec(e.message)?.[1] : undefined);
}

/** Maps a thrown value to a status, code and message that are safe to send. */
export function describeError(err: unknown): { status: number; code: string; message: string; details?: unknown } {
  if (err instanceof ApiError)
    return { status: err.status, code: err.code, message: err.message, details: err.details };
  // Class 22 is PostgreSQL refusing a value (out of range, malformed, a NUL byte…): the request's fault.
  if (sqlState(err)?.startsWith('22'))
    return { status: 400, code: 'invalid_value', message: 'A value in the request is out of range or malformed' };
  if (err instanceof Prisma.PrismaClientKnownRequestError) {
    if (err.code === 'P2025') return { status: 404, code: 'not_found', message: 'Not found' };
    if (err.code === 'P2002') return { status: 409, code: 'conflict', message: 'Already exists' };
    if (err.code === 'P2003')
      return { status: 409, code: 'conflict', message: 'A related row is missing or still in use' };
    if (err.code === 'P2000' || err.code === 'P2006' || err.code === 'P2007')
      return { status: 400, code: 'bad_request', message: 'Invalid value' };
  }
  const e = err as { status?: number; type?: string; expose?: boolean; message?: string };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const code =
      e.type === 'entity.parse.failed'
        ? 'invalid_json'
        : e.type === 'entity.too.large'
          ? 'payload_too_large'
          : 'bad_request';
    return { status: e.status, code, message: e.expose && typeof e.message === 'string' ? e.message : 'Bad request' };
  }
  return { status: 500, code: 'internal', message: 'Internal error' };
}

export interface ApiApp extends express.Express {
  locals: express.Express['locals'] & {
    routes: AnyRoute[];
    cache: EntityCache;
    queues: ApiQueues;
    auth: ReturnType<typeof authCache>;
  };
}

export function createApp(ctx: AppContext): ApiApp {
  const app = express() as ApiApp;
  const ops = opsHandlers(ctx.readiness, ctx.metrics.registry);
  app.disable('x-powered-by');
  // API answers are no-store, so a validator is never used; Express would otherwise hash every JSON body
  // (SHA-1 of 55 KB per dashboard request). Static files keep theirs (express.static sets its own).
  app.set('etag', false);
  // Only the proxies named in TRUST_PROXY may say who the client is and whether it came over https.
  app.set('trust proxy', ctx.config.TRUST_PROXY);
  // Telegram ids are bigints: they go out as strings.
  app.set('json replacer', (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  app.use(requestIdAndSecurityHeaders());

  app.use(observeRequests(ctx));

  app.get('/health', ops.health);
  app.get('/ready', ops.ready);
  app.get('/metrics', ops.metrics);

  const cache = entityCache(ctx);
  const queues = apiQueues(ctx);
  const auth = authCache(ctx);
  const deps: ApiDeps = { ctx, cache, queues, auth, loginLimiters: loginLimiters(ctx) };
  const routes = apiRoutes(deps);
  Object.assign(app.locals, { routes, cache, queues, auth });
  const document = openApiDocument(routes);
  const allowList = ctx.config.CORS_ORIGINS;

  const api = express.Router();
  api.use(
    cors({
      origin: (origin, cb) => cb(null, !origin || allowList.includes(origin) ? (origin ?? false) : false),
      credentials: true,
      allowedHeaders: ['content-type', 'authorization', CSRF_HEADER, 'x-request-id'],
      exposedHeaders: ['x-request-id'],
      maxAge: 600,
    }),
  );
  api.use((_req, res, next) => {
    res.set('cache-control', 'no-store');
    next();
  });
  api.use(express.json({ limit: '100kb' }));
  api.use(cookieParser());
  // Serialized once: the document is ~100 KB and the same for every request.
  const documentJson = JSON.stringify(document);
  api.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(documentJson);
  });
  // One limit per credential over /api/v1 and Bull Board together.
  const limit = apiRateLimit(ctx);
  api.use(authenticate(ctx, auth.entries), limit);
  mountRoutes(api, routes, csrfCheck(allowList));
  app.use('/api/v1', api);

  // The guard-bot verification Web App: for Telegram users, authenticated by Telegram's signed initData.
  app.use(GUARD_WEB_APP_PATH, webAppRouter(deps));

  app.use(BULL_BOARD_PATH, cookieParser(), authenticate(ctx, auth.entries), limit, bullBoard(ctx, queues, allowList));

  // The admin web dashboard (plain HTML/CSS/ES modules in ./public), on the public admin API only.
  const dashboardCsp = helmet.contentSecurityPolicy({
    useDefaults: true,
    directives: {
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'upgrade-insecure-requests': null,
    },
  });
  app.get('/ui-config.json', (_req, res) => {
    res
      .set('cache-control', 'no-store')
      .json({ grafanaUrl: process.env.GRAFANA_URL || null, bullBoardPath: BULL_BOARD_PATH });
  });
  app.use(
    dashboardCsp,
    express.static(fileURLToPath(new URL('./public', import.meta.url)), { index: 'index.html', maxAge: 0 }),
  );

  app.use((req, res) => {
    res.status(404).json(errorBody('not_found', `No route for ${req.method} ${req.path}`, res.locals.requestId));
  });

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const { status, code, message, details } = describeError(err);
    if (status === 500)
      ctx.log.error('request failed', { err, method: req.method, path: req.path, requestId: res.locals.requestId });
    if (!res.headersSent) res.status(status).json(errorBody(code, message, res.locals.requestId, details));
    else res.end();
  };
  app.use(onError);
  return app;
}
