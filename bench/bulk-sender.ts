import { batches } from './records.js';

/**
 * The one sender every end-to-end benchmark uses, so that the paths it compares differ only in
 * where the documents go: the same bodies, batch size and concurrency.
 */

/** `_bulk` bodies of `batchSize` `index` actions, each document under its CloudTrail eventID. */
export function bulkBodies(records: readonly Record<string, unknown>[], index: string, batchSize: number): Buffer[] {
  const bodies: Buffer[] = [];
  for (const batch of batches(records, batchSize)) {
    let text = '';
    for (const r of batch) text += `{"index":{"_index":"${index}","_id":"${String(r.eventID)}"}}\n${JSON.stringify(r)}\n`;
    bodies.push(Buffer.from(text));
  }
  return bodies;
}

/** Sends every body to `url` with `concurrency` requests in flight; fails on any item error. */
export async function send(url: string, bodies: readonly Buffer[], concurrency: number): Promise<{ rate: number; seconds: number }> {
  let next = 0;
  let docs = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      const json = (await res.json()) as { errors?: boolean; items?: Record<string, { status: number; error?: unknown }>[] };
      if (res.status !== 200 || json.errors) {
        const failed = json.items?.map((i) => Object.values(i)[0]!).find((r) => r.status >= 300);
        throw new Error(`${url} answered ${res.status}: ${JSON.stringify(failed?.error ?? json).slice(0, 300)}`);
      }
      docs += json.items!.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rate: docs / seconds, seconds };
}
