import type { Client } from '@opensearch-project/opensearch';
import type { Logger } from 'pino';
import type { AlertSink } from './app.js';
import { UpstreamError } from './errors.js';
import { itemResult, upstreamError, type BulkResponseItem } from './opensearch-errors.js';

/**
 * Writes alerts to the dedicated alerts index with `create` and the alert's deterministic id, so
 * a replayed or retried batch finds its alerts there already (409) and never duplicates them.
 * Resolves only when every alert is stored (created now, or before); anything else rejects.
 */
export class OpenSearchAlertSink implements AlertSink {
  written = 0;
  duplicates = 0;
  refused = 0;

  constructor(
    private readonly client: Client,
    private readonly index: string,
    private readonly log?: Logger,
  ) {}

  async write(alerts: readonly Record<string, unknown>[]): Promise<void> {
    if (alerts.length === 0) return;
    const body: unknown[] = [];
    for (const alert of alerts) {
      const id = (alert.event as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string') throw new Error('alert without event.id; alert ids must be deterministic');
      body.push({ create: { _index: this.index, _id: id } }, alert);
    }
    let items: BulkResponseItem[];
    try {
      const res = await this.client.bulk({ body: body as Record<string, unknown>[] });
      items = (res.body as { items: BulkResponseItem[] }).items;
    } catch (err) {
      throw upstreamError(err, 'storing alerts');
    }
    for (let i = 0; i < alerts.length; i++) {
      const result = itemResult(items[i]);
      if (result && result.status < 300) this.written++;
      else if (result?.status === 409) this.duplicates++;
      else if (result && result.status >= 400 && result.status < 500 && result.status !== 429) {
        // Refused for good (the alert itself is malformed for the mapping): retrying cannot help,
        // and failing the batch would block every later one. Loud in the log and in /metrics.
        this.refused++;
        this.log?.error({ alert: alerts[i], status: result.status, error: result.error }, 'OpenSearch refused an alert; it is in this log line only');
      } else {
        throw new UpstreamError(
          `OpenSearch did not store alert ${(alerts[i]!.event as { id: string }).id}: ${result?.error?.type ?? 'no answer'} ${result?.error?.reason ?? ''}`.trim(),
          result?.status === 429 ? 429 : 503,
        );
      }
    }
  }
}
