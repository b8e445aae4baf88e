import type { RequestHandler } from 'express';
import type { AppContext } from '../core/context';
import { queryScope } from '../core/db';

/** More queries than this in one request usually means a query inside a loop. */
export const MAX_QUERIES_PER_REQUEST = 10;

/**
 * Per request: the duration histogram by route template, a warning when it took longer than
 * SLOW_REQUEST_MS, and one when it ran more than MAX_QUERIES_PER_REQUEST database queries (counted through
 * AsyncLocalStorage, so queries deep inside helpers count too).
 */
export function observeRequests(ctx: Pick<AppContext, 'config' | 'log' | 'metrics'>): RequestHandler {
  return (req, res, next) => {
    const end = ctx.metrics.httpRequestDuration.startTimer({ method: req.method });
    const started = performance.now();
    const queries = { count: 0 };
    res.on('finish', () => {
      // A route mounted on a segment's sub-router at '/' is the segment itself (/api/v1/bots, not /api/v1/bots/).
      const routePath = req.route?.path === '/' && req.baseUrl ? '' : req.route?.path;
      const route = req.route?.path ? `${req.baseUrl}${routePath}` : req.baseUrl || 'unmatched';
      end({ route, status: String(res.statusCode) });
      const ms = performance.now() - started;
      const at = {
        method: req.method,
        route,
        status: res.statusCode,
        ms: Math.round(ms),
        queries: queries.count,
        requestId: res.locals.requestId,
      };
      if (ms > ctx.config.SLOW_REQUEST_MS) ctx.log.warn('slow request', at);
      if (queries.count > MAX_QUERIES_PER_REQUEST) ctx.log.warn('many database queries in one request (N+1?)', at);
    });
    queryScope.run(queries, next);
  };
}
