import { unzipSync } from 'node:zlib';
import type { Client } from '@opensearch-project/opensearch';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { AlertSink } from '../app.js';
import { InputError, ServiceError, errorMessage } from '../errors.js';
import { applyFilterPath } from '../filter-path.js';
import { docJson, hasAt, sourceText, type SourceText } from '../doc-json.js';
import { bodyLines, decodeBody, trimmed } from '../input.js';
import { upstreamError, type BulkItemResult, type BulkResponseItem } from '../opensearch-errors.js';
import { isItemError, type Pipeline } from '../../processors/pipeline.js';
import { isPlainObject, type Doc } from '../../processors/types.js';
import type { Metrics } from '../metrics.js';

/**
 * `POST|PUT /_bulk` and `/{index}/_bulk` with OpenSearch's semantics, so that a shipper's
 * OpenSearch/Elasticsearch output can point at the service unchanged. `index` and `create`
 * documents are enriched and forwarded; `update` and `delete` pass through untouched. The answer
 * carries OpenSearch's own item statuses, one per action, in order: nothing is reported stored
 * that OpenSearch did not acknowledge.
 *
 * Order of writes, so that a failure never loses an alert: the detection state is read and the
 * alerts are stored before the documents are sent. If either fails, no document is sent and the
 * whole request answers 429/503, which shippers retry; a retried batch yields the same alert ids.
 * The state is written behind (STATE_SYNC_INTERVAL, docs/state.md); with an interval of 0 the
 * pipeline commits it before the documents are sent too.
 */

type Op = 'index' | 'create' | 'update' | 'delete';
const OPS: readonly Op[] = ['index', 'create', 'update', 'delete'];

/** Query parameters that mean the same to OpenSearch and are passed on. */
const FORWARDED_PARAMS = ['refresh', 'routing', 'timeout', 'wait_for_active_shards', 'pipeline', 'require_alias'];

interface ClientAction {
  readonly op: Op;
  readonly meta: Record<string, unknown>;
  /** The action line as it is forwarded when its metadata is unchanged (serialised once, at parsing). */
  readonly actionLine: string;
  /** The raw source line, for update (index/create sources are parsed). */
  readonly rawSource?: string | undefined;
  /** Set when this action was answered without OpenSearch (a source that could not be read). */
  result?: BulkItemResult;
  /** Index into `records` of each record this action carries (several for a CloudTrail file object). */
  records: number[];
  /** True when the source was a CloudTrail S3 file object, split into its records. */
  split: boolean;
  /** True when the service chose the document id (the client sent none). */
  idAssigned?: boolean;
}

function itemFailure(type: string, reason: string, status = 400): BulkItemResult {
  return { status, error: { type, reason } };
}

/** One action line read: which operation, its metadata, and the line as it is forwarded. */
interface ActionLine {
  readonly op: Op;
  readonly meta: Record<string, unknown>;
  readonly actionLine: string;
}

const QUOTE = 34;
const BACKSLASH = 92;
const INDEX_ACTION = '{"index":{"_index":"';
const CREATE_ACTION = '{"create":{"_index":"';
const ID_MEMBER = '","_id":"';
const ACTION_END = '"}}';

/**
 * Where the JSON string whose characters start at `i` ends (its closing quote), or -1 when it holds
 * anything JSON.stringify would write differently (an escape, a control character, a surrogate).
 */
function plainStringEnd(text: string, i: number): number {
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c < 0x20 || c === BACKSLASH || (c >= 0xd800 && c <= 0xdfff)) return -1;
  }
  return -1;
}

/**
 * The action line shippers with document ids send, `{"index":{"_index":"...","_id":"..."}}` (or
 * `create`), read by comparison: what JSON.parse, and writing the metadata back, would make of it,
 * in a tenth of the time. Undefined for any other spelling or content, which `readActionLine` reads
 * the general way. The line is forwarded as it is, being exactly what JSON.stringify would write.
 */
export function plainActionLine(line: string): ActionLine | undefined {
  const op = hasAt(line, 0, INDEX_ACTION) ? 'index' : hasAt(line, 0, CREATE_ACTION) ? 'create' : undefined;
  if (op === undefined) return undefined;
  const indexStart = op === 'index' ? INDEX_ACTION.length : CREATE_ACTION.length;
  const indexEnd = plainStringEnd(line, indexStart);
  if (indexEnd < 0 || !hasAt(line, indexEnd, ID_MEMBER)) return undefined;
  const idStart = indexEnd + ID_MEMBER.length;
  const idEnd = plainStringEnd(line, idStart);
  if (idEnd < 0 || idEnd + ACTION_END.length !== line.length || !hasAt(line, idEnd, ACTION_END)) return undefined;
  return { op, meta: { _index: line.slice(indexStart, indexEnd), _id: line.slice(idStart, idEnd) }, actionLine: line };
}

function readActionLine(line: string, n: number): ActionLine {
  return plainActionLine(line) ?? parseActionLine(line, n);
}

/** Any action line, read with JSON.parse; a malformed one fails the request (line `n`, from 0). */
export function parseActionLine(line: string, n: number): ActionLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new InputError('body_unparseable', `Malformed action/metadata line [${n + 1}]: ${errorMessage(err)}`);
  }
  const op = isPlainObject(parsed) ? (Object.keys(parsed)[0] as Op | undefined) : undefined;
  if (!isPlainObject(parsed) || Object.keys(parsed).length !== 1 || !op || !OPS.includes(op) || !isPlainObject(parsed[op])) {
    throw new InputError('body_unparseable', `Malformed action/metadata line [${n + 1}]: expected {"index"|"create"|"update"|"delete": {...}}`);
  }
  const meta = (parsed as Record<string, Record<string, unknown>>)[op]!;
  try {
    // Written again, not passed on as sent: what OpenSearch gets is what we read (a duplicate key
    // is gone, as JSON.parse dropped it); and what cannot be written is refused here.
    return { op, meta, actionLine: `{"${op}":${JSON.stringify(meta)}}` };
  } catch {
    throw new InputError('body_unparseable', `Malformed action/metadata line [${n + 1}]: nested too deeply`);
  }
}

/** Splits the NDJSON body into actions and their sources; a malformed action line fails the request, as in OpenSearch. */
export function parseBulkBody(lines: readonly string[]): { actions: ClientAction[]; records: unknown[]; texts: (SourceText | undefined)[] } {
  const actions: ClientAction[] = [];
  const records: unknown[] = [];
  /** Each record's source line, where it was the record alone (server/doc-json.ts). */
  const texts: (SourceText | undefined)[] = [];
  // Shippers without document ids send one action line over and over: it is read once. Its
  // metadata object is then shared by those actions, which only ever read it.
  let previous: (ActionLine & { line: string }) | undefined;
  for (let n = 0; n < lines.length; n++) {
    const line = trimmed(lines[n]!);
    if (line.length === 0) continue;
    let op: Op;
    let meta: Record<string, unknown>;
    let actionLine: string;
    if (previous !== undefined && line === previous.line) {
      ({ op, meta, actionLine } = previous);
    } else {
      ({ op, meta, actionLine } = readActionLine(line, n));
      previous = { line, op, meta, actionLine };
    }
    if (op === 'delete') {
      actions.push({ op, meta, actionLine, records: [], split: false });
      continue;
    }
    n++;
    const sourceLine = lines[n] ?? '';
    // Trimmed once: for the check here and, below, as the record's text.
    const sourceTrimmed = trimmed(sourceLine);
    if (sourceTrimmed.length === 0) {
      throw new InputError('body_unparseable', `The bulk request must be terminated by a newline; action line [${n}] has no source line`);
    }
    if (op === 'update') {
      actions.push({ op, meta, actionLine, rawSource: sourceLine, records: [], split: false });
      continue;
    }
    const action: ClientAction = { op, meta, actionLine, records: [], split: false };
    actions.push(action);
    let source: unknown;
    try {
      source = JSON.parse(sourceLine);
    } catch (err) {
      action.result = itemFailure('mapper_parsing_exception', `failed to parse the document on line [${n + 1}]: ${errorMessage(err)}`);
      continue;
    }
    if (!isPlainObject(source)) {
      action.result = itemFailure('mapper_parsing_exception', `the document on line [${n + 1}] is not a JSON object`);
      continue;
    }
    if (Array.isArray(source.Records)) {
      // A whole CloudTrail S3 log file sent as one document: each record becomes its own document.
      action.split = true;
      for (const r of source.Records) {
        action.records.push(records.length);
        records.push(r);
        texts.push(undefined);
      }
    } else {
      action.records.push(records.length);
      records.push(source);
      texts.push(sourceText(source, sourceTrimmed));
    }
  }
  return { actions, records, texts };
}

/**
 * The lines as one UTF-8 buffer, written in place: one allocation for the body, where a Buffer per
 * line and a concatenation cost a pool slab per few documents and a second copy of everything.
 */
export function utf8Body(lines: readonly string[]): Buffer {
  let total = 0;
  for (const line of lines) total += Buffer.byteLength(line, 'utf8');
  const body = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const line of lines) offset += body.write(line, offset, 'utf8');
  return body;
}

/** The answer for an action whose records went to OpenSearch as several documents. */
function aggregate(action: ClientAction, results: BulkItemResult[], index: string | undefined): BulkItemResult {
  const failed = results.filter((r) => r.status >= 300);
  if (failed.length === 0) {
    return {
      _index: results[0]?._index ?? index,
      _id: results[0]?._id ?? null,
      status: results.length === 0 ? 200 : results[0]!.status,
      result: results.length === 0 ? 'noop' : 'created',
      records: results.length,
      _ids: results.map((r) => r._id),
    };
  }
  // Prefer a retryable status, so that shippers resend the file; stored records have stable ids.
  const worst = failed.find((r) => r.status === 429) ?? failed.find((r) => r.status >= 500) ?? failed[0]!;
  return {
    _index: worst._index ?? index,
    _id: action.meta._id ?? null,
    status: worst.status,
    error: {
      type: worst.error?.type ?? 'bulk_item_failed',
      reason: `${failed.length} of ${results.length} records of this CloudTrail file were not stored: ${worst.error?.reason ?? 'no reason given'}`,
    },
  };
}

function recordId(action: ClientAction, record: unknown, i: number): string | undefined {
  if (typeof action.meta._id === 'string') return `${action.meta._id}-${i}`;
  // CloudTrail's eventID is unique per event: resending the same file overwrites, never duplicates.
  return isPlainObject(record) && typeof record.eventID === 'string' ? record.eventID : undefined;
}

export interface BulkDeps {
  readonly client: Client;
  readonly pipeline: Pipeline;
  readonly alertSink: AlertSink;
  readonly maxBodyBytes: number;
  readonly log: Logger;
  readonly metrics?: Metrics | undefined;
  readonly maxRecords: number;
  /** Give documents without an `_id` their CloudTrail `eventID` (BULK_ID_FROM_EVENT_ID). */
  readonly idFromEventId?: boolean;
}

/** What the route sends to OpenSearch, and which client action each forwarded line serves. */
interface Forward {
  readonly actions: ClientAction[];
  /** One entry per forwarded action line, in order. */
  readonly owner: { action: ClientAction; part: number }[];
  /** OpenSearch's body; undefined when no action is left to send. */
  readonly body: Buffer | undefined;
}

type Timed = <T>(stage: string, run: () => Promise<T>) => Promise<T>;

/**
 * Reads the request, runs the pipeline, stores the alerts and writes OpenSearch's body. A function
 * of its own so that the records, documents and their texts are garbage by the time the forward
 * is awaited: held through that wait, every young-generation collection copied them again.
 */
async function prepareForward(req: Request, deps: BulkDeps, timed: Timed): Promise<Forward> {
  const parseEnd = deps.metrics?.stageSeconds.startTimer({ stage: 'parse' });
  const body = decodeBody(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), undefined, deps.maxBodyBytes);
  const bodyText = bodyLines(body);
  if (bodyText === undefined) throw new InputError('body_unparseable', 'the bulk body is not valid UTF-8');
  const { actions, records, texts } = parseBulkBody(bodyText);
  if (actions.length === 0) throw new InputError('body_unparseable', 'request body is required: no action in the bulk body');
  if (records.length > deps.maxRecords) {
    throw new InputError('body_too_large', `the bulk body holds ${records.length} records, more than MAX_RECORDS_PER_REQUEST (${deps.maxRecords})`, 413);
  }
  parseEnd?.();

  const { docs, alerts } = await deps.pipeline.run(records, deps.log.child({ route: 'bulk' }));
  if (alerts.length > 0) await timed('alerts_write', () => deps.alertSink.write(alerts));

  // Build OpenSearch's body with a parallel array saying which client action each line serves.
  // The lines stay text and are written into one buffer at the end (utf8Body): Array.join over
  // thousands of long strings costs more than serialising them (~12 µs per document measured).
  const lines: string[] = [];
  const owner: { action: ClientAction; part: number }[] = [];
  for (const action of actions) {
    if (action.result) continue;
    if (action.op === 'delete' || action.op === 'update') {
      lines.push(action.rawSource !== undefined ? `${action.actionLine}\n${action.rawSource}\n` : `${action.actionLine}\n`);
      owner.push({ action, part: 0 });
      continue;
    }
    for (const r of action.records) {
      const doc = docs[r];
      if (doc === undefined || isItemError(doc)) {
        action.result = itemFailure('mapper_parsing_exception', doc ? doc.error.reason : 'unreadable record');
        break;
      }
    }
    if (action.result) continue;
    // Serialise first: a record nested too deeply for JSON.stringify fails its action alone.
    const sources: string[] = [];
    for (const r of action.records) {
      try {
        sources.push(docJson(docs[r] as Doc, texts[r]));
      } catch (err) {
        action.result = itemFailure('mapper_parsing_exception', `the document cannot be written back as JSON (${errorMessage(err)}): nested too deeply?`);
        break;
      }
    }
    if (action.result) continue;
    for (const [part, r] of action.records.entries()) {
      let meta = action.meta;
      if (action.split) meta = { ...action.meta, _id: recordId(action, records[r], part) };
      else if (deps.idFromEventId && meta._id === undefined) {
        const eventId = (records[r] as { eventID?: unknown }).eventID;
        if (typeof eventId === 'string' && eventId.length > 0 && eventId.length <= 512) {
          meta = { ...action.meta, _id: eventId };
          action.idAssigned = true;
        }
      }
      lines.push(`${meta === action.meta ? action.actionLine : JSON.stringify({ [action.op]: meta })}\n${sources[part]!}\n`);
      owner.push({ action, part });
    }
  }
  return { actions, owner, body: lines.length > 0 ? utf8Body(lines) : undefined };
}

/** OpenSearch's answer to a forwarded `_bulk`, as bytes: passed on unread when nothing needs changing. */
async function sendBulk(deps: BulkDeps, req: Request, pathIndex: string | undefined, body: Buffer): Promise<{ status: number; raw: Buffer }> {
  const querystring: Record<string, unknown> = {};
  for (const p of FORWARDED_PARAMS) if (req.query[p] !== undefined) querystring[p] = req.query[p];
  // Skip the index's default pipeline unless asked for one: ours may call back into this service.
  querystring.pipeline ??= '_none';
  const response = await deps.client.transport.request(
    { method: 'POST', path: pathIndex ? `/${encodeURIComponent(pathIndex)}/_bulk` : '/_bulk', querystring, body },
    { asStream: true },
  );
  const chunks: Buffer[] = [];
  for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk);
  let raw = Buffer.concat(chunks);
  const encoding = String(response.headers?.['content-encoding'] ?? '').toLowerCase();
  if (encoding.includes('gzip') || encoding.includes('deflate')) raw = unzipSync(raw);
  return { status: response.statusCode ?? 0, raw };
}

const TOOK = Buffer.from('{"took":');
const NO_ERRORS = Buffer.from(',"errors":false,');

/**
 * Where the rest of OpenSearch's answer starts after `{"took":N,"errors":false,`, or -1 when it
 * does not start so (an error, another layout such as an ingest pipeline's `ingest_took`).
 */
function afterNoErrors(raw: Buffer): number {
  if (raw.length < TOOK.length || raw.compare(TOOK, 0, TOOK.length, 0, TOOK.length) !== 0) return -1;
  let at = TOOK.length;
  while (at < raw.length && raw[at]! >= 48 && raw[at]! <= 57) at++;
  if (at === TOOK.length || raw.length < at + NO_ERRORS.length) return -1;
  return raw.compare(NO_ERRORS, 0, NO_ERRORS.length, at, at + NO_ERRORS.length) === 0 ? at + NO_ERRORS.length : -1;
}

const STATUS_KEY = Buffer.from('"status":');

/**
 * How many `"status":` keys the answer holds from `from` on. In an answer without errors each
 * item has exactly one, and the text cannot occur inside a JSON string (its quotes would be
 * escaped): it counts the items without parsing them.
 */
function countStatuses(raw: Buffer, from: number): number {
  let n = 0;
  for (let at = raw.indexOf(STATUS_KEY, from); at !== -1; at = raw.indexOf(STATUS_KEY, at + STATUS_KEY.length)) n++;
  return n;
}

/** True when the client's answer is OpenSearch's, item for item (only `took` differs). */
function answeredAsIs(forward: Forward, req: Request): boolean {
  if (req.query.filter_path !== undefined) return false;
  // A delete of a missing document is a 404 without an error: only index and create are known
  // stored. Each such action, unsplit and not failed here, is exactly one forwarded line.
  return forward.actions.every((a) => (a.op === 'index' || a.op === 'create') && !a.split && !a.result);
}

export function bulkRoute(deps: BulkDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const started = Date.now();
    const metrics = deps.metrics;
    const timed: Timed = (stage, run) => (metrics ? metrics.time(stage, run) : run());
    const pathIndex = typeof req.params.index === 'string' ? req.params.index : undefined;
    try {
      const forward = await prepareForward(req, deps, timed);
      const { actions, owner } = forward;
      const results = new Map<ClientAction, BulkItemResult[]>();
      if (forward.body !== undefined) {
        let reply: { status: number; raw: Buffer };
        try {
          reply = await timed('forward', () => sendBulk(deps, req, pathIndex, forward.body!));
        } catch (err) {
          throw upstreamError(err, 'indexing documents');
        }
        if (reply.status >= 400) {
          let body: unknown;
          try {
            body = deps.client.transport.serializer.deserialize(reply.raw.toString('utf8'));
          } catch {
            body = { error: { type: 'upstream_unreadable', reason: reply.raw.toString('utf8').slice(0, 500) }, status: reply.status };
          }
          if (reply.status < 500 && reply.status !== 429) {
            // OpenSearch refused the request as a whole (e.g. no index named): its answer is the answer.
            res.status(reply.status).json(body);
            return;
          }
          throw upstreamError({ meta: { statusCode: reply.status, body } }, 'indexing documents');
        }
        const rest = answeredAsIs(forward, req) ? afterNoErrors(reply.raw) : -1;
        // One item per action, as below: anything else is read, and refused there.
        if (rest > 0 && countStatuses(reply.raw, rest) === owner.length) {
          // Every document stored, and the answer is OpenSearch's own: passed on without being
          // parsed and written again (a third of a millisecond per thousand documents).
          metrics?.recordsOut.inc({ route: '_bulk' }, actions.length);
          res.status(200).type('application/json').send(Buffer.concat([Buffer.from(`{"took":${Date.now() - started},"errors":false,`), reply.raw.subarray(rest)]));
          return;
        }
        let items: BulkResponseItem[] | undefined;
        try {
          items = (deps.client.transport.serializer.deserialize(reply.raw.toString('utf8')) as { items?: BulkResponseItem[] }).items;
        } catch {
          items = undefined;
        }
        if (!Array.isArray(items) || items.length !== owner.length) {
          throw new ServiceError('upstream_rejected', `OpenSearch answered ${items?.length ?? 0} items for ${owner.length} actions`, 502);
        }
        for (const [i, { action }] of owner.entries()) {
          const item = items[i]!;
          const op = Object.keys(item)[0]!;
          const list = results.get(action) ?? [];
          list.push(item[op]!);
          results.set(action, list);
        }
      }

      let errors = false;
      const answer = actions.map((action) => {
        const index = (action.meta._index as string | undefined) ?? pathIndex;
        let result: BulkItemResult;
        if (action.result) result = { _index: index, _id: action.meta._id ?? null, ...action.result };
        else if (action.split) result = aggregate(action, results.get(action) ?? [], index);
        else result = results.get(action)![0]!;
        if (action.idAssigned && action.op === 'create' && result.status === 409) {
          // Our id is the event's own: a conflict means an earlier attempt stored this very event.
          result = { ...result, status: 200, result: 'noop', error: undefined };
        }
        // As OpenSearch counts: a failure carries an error (a delete of a missing document is a 404 without one).
        if (result.error) errors = true;
        if (result.status === 429 || result.status >= 500) metrics?.openSearchErrors.inc({ operation: 'bulk_item' });
        else if (result.status < 300) metrics?.recordsOut.inc({ route: '_bulk' }, action.split ? action.records.length : 1);
        return { [action.op]: result };
      });
      res.status(200).json(applyFilterPath({ took: Date.now() - started, errors, items: answer }, req.query.filter_path));
    } catch (err) {
      if (err instanceof ServiceError && err.status >= 400) {
        // The OpenSearch error shape, which shippers parse to decide whether to retry.
        res.status(err.status).json({ error: { type: err.code, reason: err.message }, status: err.status });
        if (err.status >= 500 || err.status === 429) {
          deps.log.warn({ code: err.code, status: err.status }, err.message);
          metrics?.openSearchRetries.inc({ route: '_bulk' });
          metrics?.openSearchErrors.inc({ operation: 'bulk' });
        }
        return;
      }
      next(err);
    }
  };
}
