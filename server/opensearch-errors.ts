import { UpstreamError, errorMessage } from './errors.js';

/**
 * How an OpenSearch failure looks to our own clients. Overload (429) stays 429, everything that
 * means "OpenSearch is not there or not well" becomes 503: both tell a shipper to retry later.
 */
export function upstreamError(err: unknown, what: string): UpstreamError {
  const status = (err as { meta?: { statusCode?: number } })?.meta?.statusCode;
  if (status === 429) return new UpstreamError(`OpenSearch is overloaded (429) while ${what}; retry later`, 429);
  const reason = (err as { meta?: { body?: { error?: { reason?: string } } } })?.meta?.body?.error?.reason;
  return new UpstreamError(`OpenSearch failed while ${what}: ${reason ?? errorMessage(err)}`, 503);
}

/** The HTTP status a bulk item reports, as a number (OpenSearch always sets it). */
export interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string } | undefined;
  [key: string]: unknown;
}

export type BulkResponseItem = Record<string, BulkItemResult>;

export function itemResult(item: BulkResponseItem | undefined): BulkItemResult | undefined {
  if (!item) return undefined;
  const op = Object.keys(item)[0];
  return op === undefined ? undefined : item[op];
}
