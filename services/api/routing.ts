import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import type { AppContext } from '../core/context';
import { ApiError } from './errors';
import { roleRank, type AdminRole } from './schemas';

/** Who is calling: a logged-in admin user (session cookie) or an API token. */
export interface Principal {
  kind: 'session' | 'token';
  role: AdminRole;
  userId: number | null;
  /** The admin user this credential answers to: the session's user, or the user at the root of an API token. */
  rootUserId: number | null;
  email: string | null;
  tokenId: number | null;
  sessionId: number | null;
  /** The CSRF token bound to the session (sessions only). */
  csrfToken: string | null;
}

/** public: anyone; authenticated: any logged-in user or token; a role: that role or a higher one. */
export type Access = 'public' | 'authenticated' | AdminRole;
export type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

type Schema = z.ZodType;
type Out<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

export interface HandlerInput<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  auth: Principal;
  req: Request;
  res: Response;
}

export interface RouteSpec<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
> {
  method: Method;
  /** Express-style path under /api/v1, e.g. /bots/:id. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** Success status (200, or 204 when the route answers no body, unless given). */
  status?: number;
  /**
   * The success body (services/api/responses.ts), or null for none (204). Required: the OpenAPI document
   * describes every answer from it.
   */
  response: Schema | null;
  /** A body that is not JSON (e.g. application/gzip): its content type, documented as binary. */
  produces?: string;
  /** Failures this route answers beyond 400 (any route), 401/403 (not public) and 404 (a path with an id). */
  errors?: Partial<Record<number, string>>;
  /** Middleware run before authentication checks (e.g. rate limiters). */
  before?: RequestHandler[];
  handler: (input: HandlerInput<P, Q, B>) => Promise<unknown> | unknown;
}

export type AnyRoute = RouteSpec<any, any, any>;

export const defineRoute = <
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
>(
  spec: RouteSpec<P, Q, B>,
): AnyRoute => spec as AnyRoute;

export type RouteModule = (ctx: AppContext) => AnyRoute[];

/** Bodies smaller than this go uncompressed: gzip would save less than its own cost. */
const GZIP_MIN_BYTES = 1_024;

/**
 * A handler result that is already JSON (a cached body): sent as it is, without a parse and stringify per
 * request. Build it once and serve it many times. A body marked `shared` (held in a cache and served to many
 * requests) is also gzipped once, on the first request that accepts gzip, and sent compressed from then on:
 * the dashboard's 55 KB become a few KB, which is most of what such a request costs on the wire and the CPU.
 */
export class JsonBody {
  readonly bytes: Buffer;
  readonly shared: boolean;
  #gzipped: Buffer | undefined;
  constructor(json: string, options: { shared?: boolean } = {}) {
    this.bytes = Buffer.from(json);
    this.shared = options.shared === true && this.bytes.length >= GZIP_MIN_BYTES;
  }
  /** The gzipped bytes (made on first use), or undefined when this body is not sent compressed. */
  gzipped(): Buffer | undefined {
    if (this.shared) this.#gzipped ??= gzipSync(this.bytes);
    return this.#gzipped;
  }
}

/** Whether the client takes gzip (Accept-Encoding lists it without q=0); browsers and fetch() always do. */
const acceptsGzip = (req: Request) => {
  const header = req.headers['accept-encoding'];
  return typeof header === 'string' && header.includes('gzip') && !/gzip\s*;\s*q=0(\.0*)?\s*(,|$)/.test(header);
};

function sendJsonBody(req: Request, res: Response, body: JsonBody, status: number) {
  res.status(status);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  let bytes = body.bytes;
  if (body.shared) {
    res.vary('Accept-Encoding');
    const gzipped = acceptsGzip(req) ? body.gzipped() : undefined;
    if (gzipped) {
      res.setHeader('content-encoding', 'gzip');
      bytes = gzipped;
    }
  }
  res.setHeader('content-length', bytes.length);
  res.end(bytes);
}

/** The path of the first string (or key) holding a NUL byte, which PostgreSQL cannot store or compare. */
function nulPath(value: unknown, path: string[] = []): string[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (!value || typeof value !== 'object') return null;
  for (const [key, v] of Object.entries(value)) {
    if (key.includes('\u0000')) return [...path, key.replace(/\u0000/g, '\\0')];
    const found = nulPath(v, [...path, key]);
    if (found) return found;
  }
  return null;
}

const parse = (schema: Schema | undefined, value: unknown, where: string) => {
  if (!schema) return {};
  const nul = nulPath(value);
  if (nul)
    throw new ApiError(400, 'validation_failed', `Invalid ${where}`, [
      { path: [where, ...nul].join('.'), message: 'must not contain NUL (\\0) characters' },
    ]);
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    throw new ApiError(
      400,
      'validation_failed',
      `Invalid ${where}`,
      result.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message })),
    );
  }
  return result.data;
};

export const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Mounts routes on a router: authentication (resolved earlier into res.locals.auth), role, CSRF,
 * validation of params, query and body, then the handler; its return value is sent as JSON.
 */
export function mountRoutes(
  router: Router,
  routes: AnyRoute[],
  checkCsrf: (req: Request, auth: Principal) => void,
): void {
  // Routes are mounted on one sub-router per first path segment (/bots, /groups, /stats …): Express tries a
  // request against each route in turn, so a flat list of every route made each request match its path against
  // dozens of patterns before its own. The metrics label stays the full path (observe.ts).
  const segments = new Map<string, Router>();
  const place = (path: string): [Router, string] => {
    const m = /^(\/[^/:]+)(\/.*)?$/.exec(path);
    if (!m) return [router, path];
    let sub = segments.get(m[1]!);
    if (!sub) {
      sub = express.Router();
      segments.set(m[1]!, sub);
      router.use(m[1]!, sub);
    }
    return [sub, m[2] ?? '/'];
  };
  for (const route of routes) {
    const [target, path] = place(route.path);
    target[route.method](path, ...(route.before ?? []), async (req: Request, res: Response) => {
      const auth = res.locals.auth as Principal | undefined;
      if (route.access !== 'public') {
        if (!auth) throw new ApiError(401, 'unauthenticated', 'Log in or send an API token');
        if (route.access !== 'authenticated' && roleRank[auth.role] < roleRank[route.access]) {
          throw new ApiError(403, 'forbidden', `This needs the ${route.access} role`);
        }
        if (UNSAFE_METHODS.has(req.method)) checkCsrf(req, auth);
      }
      const params = parse(route.params, req.params, 'params');
      const query = parse(route.query, req.query, 'query');
      const body = parse(route.body, req.body, 'body');
      const result = await route.handler({ params, query, body, auth: auth as Principal, req, res } as HandlerInput<
        never,
        never,
        never
      >);
      if (res.headersSent) return;
      if (result instanceof JsonBody) sendJsonBody(req, res, result, route.status ?? 200);
      else if (result === undefined) res.status(route.status ?? 204).end();
      else res.status(route.status ?? 200).json(result);
    });
  }
}
