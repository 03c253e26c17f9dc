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
 * The answer is written in pieces of about this many characters, each handed on as soon as it is
 * made (see `writeAnswer`).
 */
export const ANSWER_PIECE_CHARS = 16 * 1024;

/**
 * Writes the answer's JSON text to `write` in pieces of about ANSWER_PIECE_CHARS. Documents are
 * written by `docJson` (their own text with the added fields spliced in, where `texts` has the
 * record's line). JSON.parse accepts nesting that JSON.stringify cannot write back (it recurses,
 * and a record nested thousands of levels deep overflows the stack): a document that cannot be
 * written becomes an error entry in its place.
 *
 * Pieces, not one string: an answer of 1,000 CloudTrail documents is 1.7 MB of text, which
 * `res.send` first flattens into one new string and then copies into one new Buffer. Sent in
 * 16 KB pieces, the same answer took 10–13 ms less per request of 1,000 records on the
 * development machine, where fresh memory is dear (docs/performance.md).
 */
export function writeAnswer(
  answer: { docs: (Doc | ItemError)[] } & Record<string, unknown>,
  texts: readonly (SourceText | undefined)[],
  write: (piece: string) => void,
): void {
  const { docs, ...rest } = answer;
  let piece = '{"docs":[';
  for (let i = 0; i < docs.length; i++) {
    let json: string;
    try {
      json = docJson(docs[i]!, texts[i]);
    } catch (err) {
      docs[i] = itemError('record_unparseable', `record ${i} cannot be written back as JSON (${errorMessage(err)}): nested too deeply?`);
      json = JSON.stringify(docs[i]);
    }
    piece += i === 0 ? json : `,${json}`;
    if (piece.length >= ANSWER_PIECE_CHARS) {
      write(piece);
      piece = '';
    }
  }
  const tail = JSON.stringify(rest);
  write(tail === '{}' ? `${piece}]}` : `${piece}],${tail.slice(1)}`);
}

/** The answer's JSON text as one string (what `sendJson` writes in pieces). */
export function answerJson(answer: { docs: (Doc | ItemError)[] } & Record<string, unknown>, texts: readonly (SourceText | undefined)[] = []): string {
  let text = '';
  writeAnswer(answer, texts, (piece) => {
    text += piece;
  });
  return text;
}

export function sendJson(res: Response, answer: { docs: (Doc | ItemError)[] } & Record<string, unknown>, texts: readonly (SourceText | undefined)[] = []): void {
  res.type('application/json');
  writeAnswer(answer, texts, (piece) => {
    res.write(piece);
  });
  res.end();
}
