import type { NextFunction, Request, Response } from 'express';
import type { AppDeps } from '../app.js';
import { errorMessage, itemError } from '../errors.js';
import type { ItemError } from '../errors.js';
import type { Doc } from '../../processors/types.js';
import { docJson, type SourceText } from '../doc-json.js';
import { readRecords } from '../input.js';
import type { BatchResult } from '../../processors/pipeline.js';

/**
 * POST /enrich: CloudTrail in (any shape input.ts reads), `{docs, alerts}` out. It keeps working
 * when OpenSearch does not: the caller gets its documents and alerts either way, and with
 * OpenSearch configured the answer says whether the alerts were stored (`alerts_stored`) and the
 * detection state kept (`state_stored`), never claiming a write that did not happen.
 */
export function enrichRoute(deps: AppDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const texts: (SourceText | undefined)[] = [];
      const records = readRecords(
        body,
        {
          contentType: req.get('content-type'),
          contentEncoding: undefined, // body-parser inflated it
          maxBytes: deps.config.maxBodyBytes,
          maxRecords: deps.config.maxRecordsPerRequest,
        },
        texts,
      );
      const log = deps.log.child({ route: 'enrich' });
      const result = await deps.pipeline.run(records, log, { stateRequired: false });
      const { docs, alerts, stateDurable } = result;
      if (!deps.alertSink) {
        sendJson(res, { docs, alerts }, texts);
        deps.metrics?.recordsOut.inc({ route: 'enrich' }, docs.length);
        return;
      }
      let alertsStored = true;
      const warnings: string[] = [];
      if (!stateDurable) warnings.push('detection state could not be read or stored in OpenSearch; this batch was judged on memory alone');
      if (alerts.length > 0) {
        try {
          await (deps.metrics ? deps.metrics.time('alerts_write', () => deps.alertSink!.write(alerts)) : deps.alertSink.write(alerts));
        } catch (err) {
          alertsStored = false;
          deps.metrics?.openSearchErrors.inc({ operation: 'alerts_write' });
          warnings.push(`alerts not stored: ${errorMessage(err)}`);
          log.warn({ err, alerts: alerts.length }, 'alerts not stored; returned to the caller only');
        }
      }
      deps.metrics?.recordsOut.inc({ route: 'enrich' }, docs.length);
      sendJson(res, { docs, alerts, alerts_stored: alertsStored, ...stateFields(result), ...(warnings.length > 0 ? { warnings } : {}) }, texts);
    } catch (err) {
      next(err);
    }
  };
}

/**
 * What the answer says of the detection state: `state_stored` only once OpenSearch has it;
 * `state_pending` when it is written behind (STATE_SYNC_INTERVAL) and so not yet.
 */
export function stateFields(result: Pick<BatchResult, 'stateDurable' | 'statePending'>): { state_stored: boolean; state_pending?: true } {
  return result.statePending ? { state_stored: false, state_pending: true } : { state_stored: result.stateDurable };
}

/**
 * The answer's JSON text. Documents are written by `docJson` (their own text with the added
 * fields spliced in, where `texts` has the record's line). JSON.parse accepts nesting that
 * JSON.stringify cannot write back (it recurses, and a record nested thousands of levels deep
 * overflows the stack): a document that cannot be written becomes an error entry in its place.
 */
export function answerJson(answer: { docs: (Doc | ItemError)[] } & Record<string, unknown>, texts: readonly (SourceText | undefined)[] = []): string {
  const { docs, ...rest } = answer;
  let text = '{"docs":[';
  for (let i = 0; i < docs.length; i++) {
    let json: string;
    try {
      json = docJson(docs[i]!, texts[i]);
    } catch (err) {
      docs[i] = itemError('record_unparseable', `record ${i} cannot be written back as JSON (${errorMessage(err)}): nested too deeply?`);
      json = JSON.stringify(docs[i]);
    }
    text += i === 0 ? json : `,${json}`;
  }
  const tail = JSON.stringify(rest);
  return tail === '{}' ? `${text}]}` : `${text}],${tail.slice(1)}`;
}

export function sendJson(res: Response, answer: { docs: (Doc | ItemError)[] } & Record<string, unknown>, texts?: readonly (SourceText | undefined)[]): void {
  res.type('application/json').send(answerJson(answer, texts));
}
