import { describe, expect, it } from 'vitest';
import { roleRank } from '../../services/api/schemas';
import type { AnyRoute } from '../../services/api/routing';
import { useApi } from './helpers';

const api = useApi();

/** A concrete URL for a route template: ids that do not exist, so changes stop at 404 after the role check. */
const concrete = (route: AnyRoute) =>
  `/api/v1${route.path.replace(':chart', 'top-groups').replace(/:(\w+)/g, '999999')}`;

describe('route inventory', () => {
  it('documents every mounted route in the OpenAPI document', async () => {
    const doc = await api.call('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    const routes = api.app.locals.routes;
    expect(routes.length).toBeGreaterThanOrEqual(40);
    for (const route of routes) {
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      expect(doc.body.paths[path]?.[route.method], `${route.method} ${path}`).toBeDefined();
    }
    // Validation and documentation come from the same schemas: per_page bounds appear in the document.
    const perPage = doc.body.paths['/groups'].get.parameters.find((p: { name: string }) => p.name === 'per_page');
    expect(perPage.schema).toMatchObject({ minimum: 1, maximum: 100 });
  });

  it('refuses every route but login, owner set-up, health, ready and metrics without credentials', async () => {
    const open = api.app.locals.routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.path}`);
    expect(open).toEqual(['post /auth/login', 'get /setup', 'post /setup']);
    for (const route of api.app.locals.routes.filter((r) => r.access !== 'public')) {
      const res = await api.call(route.method.toUpperCase(), concrete(route), {
        body: route.method === 'get' ? undefined : {},
      });
      expect(res.status, `${route.method} ${route.path}`).toBe(401);
      expect(res.body.error.code).toBe('unauthenticated');
    }
    for (const path of ['/admin/queues', '/admin/queues/api/queues'])
      expect((await api.call('GET', path)).status).toBe(401);
    for (const path of ['/health', '/ready', '/metrics']) expect((await api.call('GET', path)).status).toBe(200);
    // Garbage credentials are no credentials.
    for (const auth of [{ token: 'nzk_nope' }, { cookie: 'nezuko_session=forged' }]) {
      expect((await api.call('GET', '/api/v1/bots', { auth })).status).toBe(401);
    }
  });

  it('role matrix: each role reaches exactly the routes its rank allows', async () => {
    const failures: string[] = [];
    for (const route of api.app.locals.routes.filter((r) => r.access !== 'public')) {
      for (const role of ['viewer', 'admin', 'owner'] as const) {
        const res = await api.call(route.method.toUpperCase(), concrete(route), {
          auth: { token: api.tokens[role] },
          body: route.method === 'get' ? undefined : {},
        });
        const allowed = route.access === 'authenticated' || roleRank[role] >= roleRank[route.access as 'viewer'];
        const ok = allowed ? res.status !== 401 && res.status !== 403 && res.status < 500 : res.status === 403;
        if (!ok) failures.push(`${role} ${route.method} ${route.path} → ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('Bull Board: admins and owners read, only owners change jobs; viewers see none of it (job payloads, Redis stats)', async () => {
    for (const role of ['admin', 'owner'] as const) {
      const res = await api.call('GET', '/admin/queues/api/queues', { auth: { token: api.tokens[role] } });
      expect(res.status, role).toBe(200);
      expect(res.text).toContain('maintenance');
    }
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/api/redis/stats']) {
      expect((await api.call('GET', path, { auth: { token: api.tokens.viewer } })).status, path).toBe(403);
    }
    for (const role of ['viewer', 'admin'] as const) {
      const res = await api.call('PUT', '/admin/queues/api/queues/maintenance/retry/failed', {
        auth: { token: api.tokens[role] },
      });
      expect(res.status, role).toBe(403);
    }
    const owner = await api.call('PUT', '/admin/queues/api/queues/maintenance/retry/failed', {
      auth: { token: api.tokens.owner },
    });
    expect(owner.status).toBeLessThan(300);
  });

  it('audit log: viewers none; admins without addresses, user agents and names typed at failed logins; owners all', async () => {
    const typed = 'hunter2-typed-in-the-email-field';
    expect(
      (
        await api.call('POST', '/api/v1/auth/login', {
          body: { email: typed, password: 'wrong-password-1' },
          headers: { 'user-agent': 'probe/1.0' },
        })
      ).status,
    ).toBe(401);
    expect((await api.call('GET', '/api/v1/audit-log', { auth: { token: api.tokens.viewer } })).status).toBe(403);
    const asAdmin = await api.call('GET', '/api/v1/audit-log?limit=100', { auth: { token: api.tokens.admin } });
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.items.length).toBeGreaterThan(0);
    expect(asAdmin.text).not.toContain(typed);
    expect(asAdmin.text).not.toContain('probe/1.0');
    expect(asAdmin.text).not.toContain('127.0.0.1');
    const failed = asAdmin.body.items.find((r: { action: string }) => r.action === 'auth.login_failed');
    expect(failed).toMatchObject({ ip: null, userAgent: null, newValues: null });
    const asOwner = await api.call('GET', '/api/v1/audit-log?limit=100', { auth: { token: api.tokens.owner } });
    expect(asOwner.text).toContain(typed);
    expect(asOwner.text).toContain('probe/1.0');
  });
});
