import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/**
 * Optional API-key authentication for every endpoint but /healthz. A key is accepted in the forms
 * shippers can send without code changes: `Authorization: Bearer <key>`, `ApiKey <key>` (the
 * Elasticsearch/Logstash `api_key` form), or HTTP Basic with the key as the password (any user
 * name, for outputs that only know user/password). Keys are compared as SHA-256 digests with
 * timingSafeEqual against every configured key, so neither the length nor the position of a
 * mismatch shows in the timing. Keys are never logged.
 */

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** The secret a request presents, or undefined. */
export function presentedKey(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (value.length === 0) return undefined;
  if (scheme === 'bearer' || scheme === 'apikey') return value;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

export class ApiKeyCheck {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  accepts(header: string | undefined): boolean {
    const key = presentedKey(header);
    if (key === undefined) return false;
    const candidate = digest(key);
    let ok = false;
    // No early exit: every configured key is compared.
    for (const d of this.digests) ok = timingSafeEqual(candidate, d) || ok;
    return ok;
  }

  middleware(openPaths: readonly string[] = ['/healthz']) {
    return (req: Request, res: Response, next: NextFunction): void => {
      if (!this.enabled || openPaths.includes(req.path)) return next();
      if (this.accepts(req.get('authorization'))) return next();
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer realm="impossible-travel", ApiKey, Basic realm="impossible-travel"')
        .json({
          error: {
            type: 'unauthorized',
            reason: req.get('authorization')
              ? 'the API key in the Authorization header is not valid'
              : 'an API key is required: send Authorization: Bearer <key> (or ApiKey <key>, or Basic with the key as password)',
          },
          status: 401,
        });
    };
  }
}
