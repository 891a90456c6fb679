import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hashKey, keyPrefixOf, type KeyService } from '../accounts/keys.js';
import type { RateLimiter } from '../accounts/rate-limit.js';
import { RateLimited } from '../errors.js';
import type { Account } from '../store/repository.js';
import { WireError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    account: Account | null;
    /** Hash of the API key used, for per-key limits. */
    apiKeyHash: string | null;
    /** The key's first characters (as `keys list` shows them), naming who acted in audit entries. */
    apiKeyPrefix: string | null;
  }
}

/** The account of an authenticated request (routes behind the auth hook only). */
export function accountOf(request: FastifyRequest): Account {
  if (!request.account) throw new WireError('InvalidApiKey', 401, 'no account on this request');
  return request.account;
}

/** Who made the request, for audit entries: `key <prefix>…`. */
export function actorOf(request: FastifyRequest): string {
  return `key ${request.apiKeyPrefix ?? '?'}…`;
}

/** Counts one synthesis request against the caller's key; throws RateLimited (Throttling) past the limit. */
export function takeRateToken(limiter: RateLimiter, request: FastifyRequest): void {
  const key = request.apiKeyHash ?? 'anonymous';
  if (!limiter.take(key)) throw new RateLimited(limiter.retryAfterSeconds(key));
}

export interface AuthOptions {
  keys: KeyService;
  /** Paths served without a key (health checks, the web studio's files). */
  isPublic: (path: string) => boolean;
  /** Paths whose routes call `authenticate` themselves. */
  authenticatesItself: (path: string) => boolean;
  /** The web studio's files: public. */
  isStudioFile: (path: string) => boolean;
}

/** Puts the account of the request's `Authorization: Bearer <key>` on it, or throws InvalidApiKey. */
export async function authenticate(keys: KeyService, request: FastifyRequest): Promise<void> {
  const header = request.headers.authorization;
  const match = header ? /^\s*Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) {
    throw new WireError('InvalidApiKey', 401, 'no API key: send the header Authorization: Bearer <your API key>');
  }
  const account = await keys.authenticate(match[1]);
  if (!account) throw new WireError('InvalidApiKey', 401, 'Invalid API-key provided.');
  request.account = account;
  request.apiKeyHash = hashKey(match[1]);
  request.apiKeyPrefix = keyPrefixOf(match[1]);
}

/**
 * `Authorization: Bearer <key>` on every API call; the account rides on the request.
 * WebSocket routes authenticate in their own preValidation hook instead (`skipsHook`): an
 * error thrown this early in an upgrade request leaves its socket open.
 */
export const authPlugin = fp(async (app: FastifyInstance, options: AuthOptions) => {
  app.decorateRequest('account', null);
  app.decorateRequest('apiKeyHash', null);
  app.decorateRequest('apiKeyPrefix', null);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (options.isPublic(path) || options.isStudioFile(path) || options.authenticatesItself(path)) return;
    await authenticate(options.keys, request);
  });
});
