import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, hashToken, TokenDecryptionError } from '../../services/core/crypto';

const key = randomBytes(32);
const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9';

describe('token encryption (AES-256-GCM)', () => {
  it('round-trips and never stores the token in clear', () => {
    const sealed = encryptSecret(token, key);
    expect(sealed).not.toContain(token);
    expect(sealed).not.toContain('AAHdqTcv');
    expect(decryptSecret(sealed, key)).toBe(token);
  });

  it('uses a fresh IV each time', () => {
    expect(encryptSecret(token, key)).not.toBe(encryptSecret(token, key));
  });

  it('detects tampering with any part', () => {
    const sealed = encryptSecret(token, key);
    const parts = sealed.split(':');
    for (const index of [1, 2, 3]) {
      const tampered = [...parts];
      const bytes = Buffer.from(tampered[index]!, 'base64url');
      bytes[0] = bytes[0]! ^ 0x01;
      tampered[index] = bytes.toString('base64url');
      expect(() => decryptSecret(tampered.join(':'), key)).toThrow(TokenDecryptionError);
    }
  });

  it('refuses a wrong key without revealing anything', () => {
    const sealed = encryptSecret(token, key);
    expect(() => decryptSecret(sealed, randomBytes(32))).toThrow(/wrong TOKEN_ENCRYPTION_KEY or tampered/);
    expect(() => decryptSecret('garbage', key)).toThrow(TokenDecryptionError);
  });

  it('hashes session tokens one way', () => {
    expect(hashToken('abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken('abc')).not.toBe(hashToken('abd'));
  });
});
