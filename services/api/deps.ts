import type { RequestHandler } from 'express';
import type { AppContext } from '../core/context';
import type { AuthCache } from './auth';
import type { EntityCache } from './cache';
import type { ApiQueues } from './queues';

/** What route modules get: the process context and the API's own helpers. */
export interface ApiDeps {
  ctx: AppContext;
  cache: EntityCache;
  queues: ApiQueues;
  /** Clear cached credentials everywhere after a logout, revocation or user change. */
  auth: AuthCache;
  loginLimiters: RequestHandler[];
}
