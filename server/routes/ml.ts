import { stateFields } from './enrich.js';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AlertSink } from '../app.js';
import { InputError, errorMessage } from '../errors.js';
import { decodeBody } from '../input.js';
import type { Metrics } from '../metrics.js';
import { isItemError, type Pipeline } from '../../processors/pipeline.js';
import { isPlainObject, type Doc } from '../../processors/types.js';

/**
 * `POST /ml/enrich`: the remote "model" behind the ML Commons connector that server/ml-setup.ts
 * creates, so that documents indexed straight into OpenSearch through the `impossible-travel-enrich`
 * ingest pipeline (an `ml_inference` processor) are enriched by this service too.
 *
 * Request (the connector's request_body, `{"record": ${parameters.record}}`, where the processor's
 * input_map `{"record": "$"}` puts the whole ingest document, metadata included, serialised by
 * ML Commons): `{"record": {<one CloudTrail record>, "_index": ..., "_version": ..., ...}}`.
 *
 * Answer: always every field the processor's output_map copies, so that ML Commons never falls back
 * to writing its whole response into a field (which it does when an output field is missing):
 *   {"@timestamp": ..., "source": {address, ip, geo}, "userIdentity": {"session_name": ...},
 *    "impossible_travel": {...}, "alerts_stored": true, "state_stored": false, "state_pending": true}
 * A value the pipeline did not produce is null (ML Commons then writes a null field, which
 * OpenSearch does not index). `alerts_stored` and the state fields (`stateFields`) are for humans;
 * not mapped.
 *
 * Alerts are written here, by the service, to the alerts index (`create` with the alert's
 * deterministic id: a retried or replayed document never duplicates one).
 *
 * Failure choices. The document is stored by OpenSearch whatever we answer (the processor runs with
 * ignore_failure), so an error answer only costs the document its enrichment:
 * - detection state unreadable/unwritable: judged on memory (stateRequired false), answered 200
 *   with `state_stored: false`: GeoIP enrichment and most detections still happen;
 * - alerts not stored: answered 200 all the same, the document still carries `impossible_travel`,
 *   the failure is logged and counted (impossible_travel_opensearch_errors_total{operation="alerts_write"});
 * - a request that is not `{"record": {...}}`, or a record the pipeline refuses: 400.
 */

/** Ingest metadata that ML Commons sends along with the source when input_map is `$`. */
const INGEST_METADATA = new Set(['_index', '_id', '_routing', '_version', '_version_type', '_if_seq_no', '_if_primary_term', '_op_type', '_ingest']);

/** The fields the ingest pipeline's output_map copies onto the document (see ml-setup.ts). */
export const ML_OUTPUT_FIELDS = ['@timestamp', 'source', 'userIdentity.session_name', 'impossible_travel'] as const;

export interface MlEnrichDeps {
  readonly pipeline: Pipeline;
  readonly alertSink: AlertSink;
  readonly maxBodyBytes: number;
  readonly log: Logger;
  readonly metrics?: Metrics | undefined;
}

/** Takes the record out of the connector's request; strips the ingest metadata. */
export function readMlRequest(body: Buffer, maxBodyBytes: number): Doc {
  const text = decodeBody(body, undefined, maxBodyBytes).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InputError('body_unparseable', `the body is not JSON: ${errorMessage(err)}`);
  }
  if (!isPlainObject(parsed) || !isPlainObject(parsed.record)) {
    throw new InputError('body_unparseable', 'expected {"record": {<one CloudTrail record>}} (the request_body of the impossible-travel ML connector)');
  }
  const record: Doc = {};
  for (const [k, v] of Object.entries(parsed.record)) if (!INGEST_METADATA.has(k)) record[k] = v;
  return record;
}

/** The answer: every output field, null when the pipeline did not produce it. */
export function mlAnswer(doc: Doc): Record<string, unknown> {
  const identity = isPlainObject(doc.userIdentity) ? doc.userIdentity : undefined;
  return {
    '@timestamp': doc['@timestamp'] ?? null,
    source: doc.source ?? null,
    userIdentity: { session_name: identity?.session_name ?? null },
    impossible_travel: doc.impossible_travel ?? null,
  };
}

export function mlEnrichRoute(deps: MlEnrichDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const record = readMlRequest(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), deps.maxBodyBytes);
      const log = deps.log.child({ route: 'ml' });
      const result = await deps.pipeline.run([record], log, { stateRequired: false });
      const { docs, alerts } = result;
      const doc = docs[0];
      if (doc === undefined || isItemError(doc)) {
        const reason = doc?.error.reason ?? 'the record could not be processed';
        res.status(400).json({ error: { type: doc?.error.type ?? 'processing_failed', reason } });
        return;
      }
      let alertsStored = true;
      if (alerts.length > 0) {
        try {
          await (deps.metrics ? deps.metrics.time('alerts_write', () => deps.alertSink.write(alerts)) : deps.alertSink.write(alerts));
        } catch (err) {
          alertsStored = false;
          deps.metrics?.openSearchErrors.inc({ operation: 'alerts_write' });
          log.warn({ err, alerts: alerts.length }, 'alerts not stored; the document keeps its impossible_travel field');
        }
      }
      deps.metrics?.recordsOut.inc({ route: 'ml' }, 1);
      res.json({ ...mlAnswer(doc), alerts_stored: alertsStored, ...stateFields(result) });
    } catch (err) {
      next(err);
    }
  };
}
