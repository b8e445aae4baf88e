import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkInitData } from '../../services/api/init-data';

const TOKEN = '123456789:AAF-test-token-for-init-data-checks_xyz';
const NOW = Date.UTC(2026, 11, 2, 12, 0, 0);
const nowS = Math.floor(NOW / 1000);

/** Signed as core.telegram.org/bots/webapps documents (written independently of the checker). */
function signed(fields: Record<string, string>, token = TOKEN): string {
  const dataCheckString = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('\n');
  const secret = createHmac('sha256', 'WebAppData').update(token).digest();
  return new URLSearchParams({
    ...fields,
    hash: createHmac('sha256', secret).update(dataCheckString).digest('hex'),
  }).toString();
}

const user = JSON.stringify({ id: 4242, first_name: 'Ann', language_code: 'ru' });

describe('Telegram Web App initData', () => {
  it('accepts what Telegram signed with this bot token, fields in any order, extra fields included', () => {
    const data = signed({ user, auth_date: String(nowS - 30), query_id: 'AAE', signature: 'c2ln' });
    expect(checkInitData(data, TOKEN, 3600, NOW)).toEqual({
      ok: true,
      user: { id: 4242, firstName: 'Ann', languageCode: 'ru' },
      authDate: nowS - 30,
    });
  });

  it('refuses a changed field, another bot token, a missing or malformed hash', () => {
    const data = signed({ user, auth_date: String(nowS) });
    const changed = data.replace('4242', '4243');
    expect(checkInitData(changed, TOKEN, 3600, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(checkInitData(signed({ user, auth_date: String(nowS) }, '1:other'), TOKEN, 3600, NOW)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const withoutHash = new URLSearchParams(data);
    withoutHash.delete('hash');
    expect(checkInitData(withoutHash.toString(), TOKEN, 3600, NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(checkInitData(`${data}&hash=00`, TOKEN, 3600, NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(checkInitData('', TOKEN, 3600, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses stale data and data dated in the future beyond a minute of clock skew', () => {
    expect(checkInitData(signed({ user, auth_date: String(nowS - 3601) }), TOKEN, 3600, NOW)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(checkInitData(signed({ user, auth_date: String(nowS + 120) }), TOKEN, 3600, NOW)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(checkInitData(signed({ user, auth_date: String(nowS + 30) }), TOKEN, 3600, NOW).ok).toBe(true);
  });

  it('refuses signed data without a usable user or auth_date', () => {
    for (const fields of <Array<Record<string, string>>>[
      { auth_date: String(nowS) },
      { user: 'not json', auth_date: String(nowS) },
      { user: JSON.stringify({ id: -1 }), auth_date: String(nowS) },
      { user, auth_date: 'soon' },
    ])
      expect(checkInitData(signed(fields), TOKEN, 3600, NOW)).toEqual({ ok: false, reason: 'malformed' });
  });
});
