import { readFileSync } from 'node:fs';
import { Client } from '@opensearch-project/opensearch';
import type { OpenSearchConfig } from './config.js';

/**
 * One OpenSearch client for the whole service. Credentials come from configuration (environment
 * or a file) and never appear in logs; TLS verifies against the given CA bundle, or the system's.
 * Retries stay off here: the service decides what to retry, and tells its own clients to retry
 * (429/503) rather than retrying blindly inside a request.
 */
export function createOpenSearchClient(config: OpenSearchConfig): Client {
  return new Client({
    node: config.url,
    auth: config.username ? { username: config.username, password: config.password ?? '' } : undefined,
    ssl: {
      ca: config.caFile ? readFileSync(config.caFile) : undefined,
      rejectUnauthorized: config.tlsRejectUnauthorized,
    },
    requestTimeout: config.requestTimeoutMs,
    maxRetries: 0,
    compression: undefined,
  });
}

export type { Client };
