// Cached reads (group and channel lists, the dashboard) are gzipped once and sent compressed to every client that
// accepts gzip; a client that does not gets the same JSON uncompressed.
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { seedBot, useApi } from './helpers';

const api = useApi();

/** A raw GET (fetch() would decompress on its own and hide what was sent). */
function rawGet(path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = request(`${api.base}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('compressed cached reads', () => {
  it('a group list is gzipped for clients that accept it, plain for the others, the same JSON', async () => {
    const { botId } = await seedBot(api);
    await api.ctx.db.protectedGroup.createMany({
      data: Array.from({ length: 30 }, (_, i) => ({
        botInstanceId: botId,
        chatId: -1_002_000_000_000n - BigInt(i),
        title: `Compression test group number ${i}`,
        enabled: true,
      })),
    });
    const auth = { authorization: `Bearer ${api.tokens.viewer}` };
    const path = '/api/v1/groups?per_page=50';

    const plain = await rawGet(path, auth);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    const json = JSON.parse(plain.body.toString('utf8'));
    expect(json.items.length).toBeGreaterThanOrEqual(30);

    const gzipped = await rawGet(path, { ...auth, 'accept-encoding': 'gzip, deflate, br' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(Number(gzipped.headers['content-length'])).toBe(gzipped.body.length);
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 2);
    expect(JSON.parse(gunzipSync(gzipped.body).toString('utf8'))).toEqual(json);

    // gzip;q=0 means "not gzip".
    const refused = await rawGet(path, { ...auth, 'accept-encoding': 'gzip;q=0, identity' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(refused.body.toString('utf8'))).toEqual(json);

    // fetch() asks for gzip and decompresses: what the dashboard's pages get.
    const viaFetch = await api.call('GET', path, { auth: { token: api.tokens.viewer } });
    expect(viaFetch.body).toEqual(json);
  });
});
