import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../services/core/config';

describe('configuration', () => {
  it('applies documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.ROLES).toEqual(['poller', 'verifier', 'maintenance', 'api']);
    expect(config.API_PORT).toBe(3000);
    expect(config.LOG_DIR).toBe('storage/logs');
    expect(config.LOG_MAX_SIZE).toBe('50m');
    expect(config.LOG_MAX_FILES).toBe(10);
    expect(config.VERIFIER_SHARD).toEqual({ index: 0, count: 1 });
    expect(config.TOKEN_ENCRYPTION_KEY).toBeUndefined();
  });

  it('coerces and parses values', () => {
    const config = loadConfig({
      ROLES: 'poller, verifier',
      API_PORT: '8080',
      LOG_PER_BOT: 'true',
      VERIFIER_SHARD: '1/3',
      TOKEN_ENCRYPTION_KEY: 'ab'.repeat(32),
      CORS_ORIGINS: 'https://a.example,https://b.example',
    });
    expect(config.ROLES).toEqual(['poller', 'verifier']);
    expect(config.API_PORT).toBe(8080);
    expect(config.LOG_PER_BOT).toBe(true);
    expect(config.VERIFIER_SHARD).toEqual({ index: 1, count: 3 });
    expect(config.TOKEN_ENCRYPTION_KEY).toHaveLength(32);
    expect(config.CORS_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ API_PORT: '', BOT_TOKEN: '' }).API_PORT).toBe(3000);
  });

  it('names every offending variable and what it expects, in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://x',
        API_PORT: 'eighty',
        ROLES: 'poller,cooker',
        TOKEN_ENCRYPTION_KEY: 'short',
        BOT_TOKEN: 'not-a-token',
        VERIFIER_SHARD: '3/2',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['DATABASE_URL', 'API_PORT', 'ROLES', 'TOKEN_ENCRYPTION_KEY', 'BOT_TOKEN', 'VERIFIER_SHARD']) {
      expect(message).toContain(`${name}:`);
    }
    expect(message).toContain('cooker');
    expect(message).toContain('postgresql:');
    expect(message.split('\n')).toHaveLength(1);
  });

  it('WEB_APP_BASE_URL: unset by default; https, or http on loopback only; trailing slashes dropped', () => {
    expect(loadConfig({}).WEB_APP_BASE_URL).toBeUndefined();
    expect(loadConfig({}).WEB_APP_AUTH_MAX_AGE_SECONDS).toBe(3600);
    expect(loadConfig({ WEB_APP_BASE_URL: 'https://nezuko.example.com/' }).WEB_APP_BASE_URL).toBe(
      'https://nezuko.example.com',
    );
    expect(loadConfig({ WEB_APP_BASE_URL: 'https://example.com/nezuko/' }).WEB_APP_BASE_URL).toBe(
      'https://example.com/nezuko',
    );
    expect(loadConfig({ WEB_APP_BASE_URL: 'http://127.0.0.1:3000' }).WEB_APP_BASE_URL).toBe('http://127.0.0.1:3000');
    for (const bad of ['http://nezuko.example.com', 'ftp://example.com', 'nezuko.example.com', 'https://x.io/?a=1'])
      expect(() => loadConfig({ WEB_APP_BASE_URL: bad }), bad).toThrow(/WEB_APP_BASE_URL: expected the public https/);
    expect(() => loadConfig({ WEB_APP_AUTH_MAX_AGE_SECONDS: '0' })).toThrow(/WEB_APP_AUTH_MAX_AGE_SECONDS/);
  });

  it('does not echo a bad secret back in the error', () => {
    const secret = 'very-secret-but-not-32-bytes';
    expect(() => loadConfig({ TOKEN_ENCRYPTION_KEY: secret })).toThrow(/TOKEN_ENCRYPTION_KEY/);
    try {
      loadConfig({ TOKEN_ENCRYPTION_KEY: secret });
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it('TRUST_PROXY: loopback by default; false, true, a hop count, or addresses, subnets and names', () => {
    expect(loadConfig({}).TRUST_PROXY).toEqual(['loopback']);
    expect(loadConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'loopback, uniquelocal, 10.1.2.3, 172.18.0.0/16, fd00::/8' }).TRUST_PROXY).toEqual(
      ['loopback', 'uniquelocal', '10.1.2.3', '172.18.0.0/16', 'fd00::/8'],
    );
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.example.com' })).toThrow(/TRUST_PROXY: proxy\.example\.com/);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/40' })).toThrow(/TRUST_PROXY/);
  });
});
