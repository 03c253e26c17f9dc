/**
 * The one catalogue of errors. Every error the service reports carries a stable `code` so that
 * clients, logs and dashboards can match on it; the message says what was wrong in words.
 */

export type ErrorCode =
  | 'config_invalid'
  | 'geoip_unavailable'
  | 'body_unparseable'
  | 'body_too_large'
  | 'unsupported_encoding'
  | 'record_not_object'
  | 'record_unparseable'
  | 'processing_failed'
  | 'unauthorized'
  | 'not_found'
  | 'upstream_unavailable'
  | 'upstream_rejected'
  | 'internal';

export class ServiceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** HTTP status when the error ends a request. */
    readonly status = 500,
  ) {
    super(message);
    this.name = 'ServiceError';
  }

  toJSON(): { type: ErrorCode; reason: string } {
    return { type: this.code, reason: this.message };
  }
}

/** Stops start-up: a setting is missing, malformed or contradicts another. */
export class ConfigError extends ServiceError {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super('config_invalid', `${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** The request as a whole cannot be read; answered with a 4xx and a JSON error. */
export class InputError extends ServiceError {
  constructor(code: ErrorCode, message: string, status = 400) {
    super(code, message, status);
    this.name = 'InputError';
  }
}

/** OpenSearch (or another dependency) failed in a way a client should retry. */
export class UpstreamError extends ServiceError {
  constructor(message: string, status = 503) {
    super('upstream_unavailable', message, status);
    this.name = 'UpstreamError';
  }
}

/** The per-item error that stands in a batch response where a record could not be processed. */
export interface ItemError {
  readonly error: { readonly type: ErrorCode; readonly reason: string };
}

export function itemError(code: ErrorCode, reason: string): ItemError {
  return { error: { type: code, reason } };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
