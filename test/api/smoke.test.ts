import { describe, expect, it } from 'vitest';
import { OWNER, seedBot, useApi } from './helpers';

const api = useApi();

describe('api smoke', () => {
  it('logs in, lists, creates a bot', async () => {
    const s = await api.login(OWNER);
    expect(s.res.status).toBe(200);
    const me = await api.call('GET', '/api/v1/auth/me', { auth: s });
    expect(me.status).toBe(200);
    expect(me.body.role).toBe('owner');
    const seeded = await seedBot(api);
    const bots = await api.call('GET', '/api/v1/bots', { auth: s });
    expect(bots.body.total).toBe(1);
    const groups = await api.call('GET', '/api/v1/groups?q=crypto', { auth: s });
    expect(groups.status).toBe(200);
    expect(groups.body.items[0].id).toBe(seeded.group.id);
    const doc = await api.call('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    for (const path of [
      '/stats/dashboard',
      '/stats/charts/top-groups',
      '/verifications',
      '/audit-log',
      '/channels',
      `/bots/${seeded.botId}/health`,
      `/groups/${seeded.group.id}`,
    ]) {
      const r = await api.call('GET', `/api/v1${path}`, { auth: s });
      expect(r.status, `${path}: ${r.text}`).toBe(200);
    }
    const bb = await api.call('GET', '/admin/queues', { auth: s });
    expect(bb.status, bb.text.slice(0, 200)).toBe(200);
    const bbApi = await api.call('GET', '/admin/queues/api/queues', { auth: s });
    expect(bbApi.status, bbApi.text.slice(0, 200)).toBe(200);
    expect(bbApi.text).toContain(`updates-${seeded.botId}`);
  });
});
