import type { RequestHandler } from 'express';
import type { AppContext } from '../core/context';
import { queryScope } from '../core/db';

/** More queries than this in one request usually means a query inside a loop. */
export const MAX_QUERIES_PER_REQUEST = 10;

/**
 * Per request: the duration histogram by route template, a warning when it took longer than
 * SLOW_REQUEST_MS, and with COUNT_REQUEST_QUERIES one when it ran more than MAX_QUERIES_PER_REQUEST database
 * queries (counted through AsyncLocalStorage, so queries deep inside helpers count too).
 */
export function observeRequests(ctx: Pick<AppContext, 'config' | 'log' | 'metrics'>): RequestHandler {
  const { COUNT_REQUEST_QUERIES: countQueries, SLOW_REQUEST_MS: slowMs } = ctx.config;
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
      const slow = ms > slowMs;
      const many = countQueries && queries.count > MAX_QUERIES_PER_REQUEST;
      if (!slow && !many) return;
      const at = {
        method: req.method,
        route,
        status: res.statusCode,
        ms: Math.round(ms),
        ...(countQueries ? { queries: queries.count } : {}),
        requestId: res.locals.requestId,
      };
      if (slow) ctx.log.warn('slow request', at);
      if (many) ctx.log.warn('many database queries in one request (N+1?)', at);
    });
    if (countQueries) queryScope.run(queries, next);
    else next();
  };
}
