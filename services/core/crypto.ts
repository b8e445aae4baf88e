import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Bot tokens at rest: AES-256-GCM with a random 96-bit IV. Stored as `v1:<iv>:<tag>:<ciphertext>` (base64url),
 * so a tampered value or a wrong key fails authentication instead of decrypting to garbage.
 */
const VERSION = 'v1';

export class TokenDecryptionError extends Error {
  override name = 'TokenDecryptionError';
}

export function encryptSecret(plain: string, key: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join(':');
}

export function decryptSecret(sealed: string, key: Buffer): string {
  const [version, iv, tag, ciphertext] = sealed.split(':');
  if (version !== VERSION || !iv || !tag || ciphertext === undefined)
    throw new TokenDecryptionError('not an encrypted value of a known format');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    // Never include the value or the key in the message.
    throw new TokenDecryptionError('cannot decrypt: wrong TOKEN_ENCRYPTION_KEY or tampered value');
  }
}

/** A one-way hash for session and API tokens (high-entropy, so no salt or slow hash is needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A random URL-safe token for sessions, API tokens and CSRF. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
