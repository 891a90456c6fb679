import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Account, ApiKeyRecord, Repository } from '../store/repository.js';

const keyAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const keyPrefix = 'sk-timbre-';

function randomBase62(length: number): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  // Rejection sampling keeps every character equally likely (248 = 4 * 62).
  for (const byte of bytes) {
    if (byte < 248) out += keyAlphabet[byte % 62];
    if (out.length === length) return out;
  }
  return out + randomBase62(length - out.length);
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface IssuedKey {
  key: string;
  id: string;
  account: Account;
}

/** API keys: issued once in plain text, stored only as a hash, each owned by one account. */
/** The first characters of a key: enough for a person to tell keys apart, useless to an attacker. */
export function keyPrefixOf(key: string): string {
  return key.slice(0, keyPrefix.length + 6);
}

export class KeyService {
  constructor(
    private readonly repository: Repository,
    private readonly clock: Clock,
  ) {}

  async issue(accountName: string): Promise<IssuedKey> {
    const now = this.clock.now();
    const account = await this.repository.ensureAccount(accountName, now);
    const key = keyPrefix + randomBase62(32);
    const id = randomUUID();
    await this.repository.insertApiKey({ id, accountId: account.id, keyHash: hashKey(key), keyPrefix: keyPrefixOf(key), createdAt: now });
    return { key, id, account };
  }

  authenticate(key: string): Promise<Account | null> {
    return this.repository.findAccountByKeyHash(hashKey(key));
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.repository.listApiKeys();
  }

  revoke(idOrPrefix: string): Promise<boolean> {
    return this.repository.revokeApiKey(idOrPrefix, this.clock.now());
  }

  async hasActiveKeys(): Promise<boolean> {
    return (await this.repository.countActiveApiKeys()) > 0;
  }
}
