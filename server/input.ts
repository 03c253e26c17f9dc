import { isAscii } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { CLOSE_BRACE, OPEN_BRACE, sourceText, type SourceText } from './doc-json.js';
import { InputError, itemError } from './errors.js';
import { UnreadableRecord } from '../processors/pipeline.js';
import { isPlainObject } from '../processors/types.js';

/**
 * Reads a request body into CloudTrail records, whatever shape AWS (or a shipper) wrapped them in:
 *  - one record, or a JSON array of records;
 *  - a CloudTrail S3 log file `{"Records": [...]}`;
 *  - an EventBridge "AWS API Call via CloudTrail" event (the record is `detail`);
 *  - a CloudWatch Logs subscription payload, decoded (`logEvents[].message`) or as Lambda gets it
 *    (`{"awslogs": {"data": base64(gzip(...))}}`);
 *  - NDJSON, one of the above per line;
 *  - any of these gzip-compressed.
 * A body that cannot be read at all is an InputError (400); a part that cannot be read becomes an
 * UnreadableRecord in its place, so one bad line never costs the others.
 */

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

export function isGzip(body: Buffer): boolean {
  return body.length >= 2 && body[0] === GZIP_MAGIC_0 && body[1] === GZIP_MAGIC_1;
}

/**
 * Inflates gzip bodies, refusing to inflate past `maxBytes`. Over HTTP, body-parser has already
 * undone Content-Encoding (pass undefined); a gzip body sent without the header (an S3 object
 * uploaded as is) is still recognised by its magic bytes.
 */
export function decodeBody(body: Buffer, contentEncoding: string | undefined, maxBytes: number): Buffer {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== '') {
    throw new InputError('unsupported_encoding', `Content-Encoding "${contentEncoding}" is not supported; send identity or gzip`, 415);
  }
  if (encoding === 'gzip' || encoding === 'x-gzip' || isGzip(body)) {
    try {
      return gunzipSync(body, { maxOutputLength: maxBytes });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger|maxOutputLength/i.test(e.message)) {
        throw new InputError('body_too_large', `the gzip body inflates to more than ${maxBytes} bytes (MAX_BODY_BYTES)`, 413);
      }
      throw new InputError('body_unparseable', `the body is not valid gzip: ${e.message}`);
    }
  }
  return body;
}

/**
 * The body as text; undefined when it is not valid UTF-8. CloudTrail JSON is nearly always pure
 * ASCII, which reads as latin1 byte for byte: an order of magnitude cheaper than UTF-8 decoding
 * (measured: 0.4 against 6 µs per 1.4 KB record), the check included.
 */
export function decodeText(body: Buffer): string | undefined {
  if (isAscii(body)) return body.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

/**
 * The body's lines (split at every `\n`, as `String.split` would), or undefined when the body is not
 * valid UTF-8. An ASCII body, which CloudTrail nearly always is, is cut on its bytes, each line its
 * own small string: one string of the whole body is a large object, which V8 puts in the old
 * generation and frees only in a full collection, so at a megabyte and a half per thousand records
 * it made the service run a mark-compact every few requests. Any other body is decoded whole.
 */
export function bodyLines(body: Buffer): string[] | undefined {
  if (!isAscii(body)) return decodeText(body)?.split('\n');
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const end = body.indexOf(10, start);
    if (end === -1) {
      lines.push(body.toString('latin1', start));
      return lines;
    }
    lines.push(body.toString('latin1', start, end));
    start = end + 1;
  }
}

export function isNdjson(contentType: string | undefined): boolean {
  return /^application\/(x-ndjson|ndjson|jsonl|x-jsonlines|json-seq)\b/i.test(contentType ?? '');
}

function describeJsonError(err: unknown): string {
  return (err as Error).message.replace(/^Unexpected/, 'unexpected');
}

/** How many more bytes envelopes inside the body may inflate to (shared by all of them). */
export interface InflateBudget {
  remaining: number;
}

/** Expands one parsed JSON value into records, unwrapping every envelope we know. */
export function unwrap(value: unknown, out: unknown[], depth = 0, budget: InflateBudget = { remaining: 64 * 1024 * 1024 }): void {
  if (Array.isArray(value)) {
    // One level of array only: an array inside an array is not a shape AWS produces.
    if (depth > 0) {
      out.push(value);
      return;
    }
    for (const item of value) unwrap(item, out, depth + 1, budget);
    return;
  }
  if (!isPlainObject(value)) {
    out.push(value);
    return;
  }
  if (Array.isArray(value.Records)) {
    for (const r of value.Records) out.push(r);
    return;
  }
  if (typeof value['detail-type'] === 'string' && isPlainObject(value.detail)) {
    out.push(value.detail);
    return;
  }
  if (Array.isArray(value.logEvents) && typeof value.messageType === 'string') {
    if (value.messageType !== 'DATA_MESSAGE') return; // CONTROL_MESSAGE: a subscription health check
    for (const [i, event] of value.logEvents.entries()) {
      const message = isPlainObject(event) ? event.message : undefined;
      if (typeof message !== 'string') {
        out.push(new UnreadableRecord(itemError('record_unparseable', `logEvents[${i}].message is not a string`)));
        continue;
      }
      try {
        out.push(JSON.parse(message));
      } catch (err) {
        out.push(new UnreadableRecord(itemError('record_unparseable', `logEvents[${i}].message is not JSON: ${describeJsonError(err)}`)));
      }
    }
    return;
  }
  if (isPlainObject(value.awslogs) && typeof value.awslogs.data === 'string' && depth < 2) {
    let inner: unknown;
    try {
      const inflated = gunzipSync(Buffer.from(value.awslogs.data, 'base64'), { maxOutputLength: Math.max(1, budget.remaining) });
      budget.remaining -= inflated.length;
      inner = JSON.parse(inflated.toString('utf8'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE') {
        throw new InputError('body_too_large', 'the awslogs.data envelopes inflate to more than MAX_BODY_BYTES', 413);
      }
      out.push(new UnreadableRecord(itemError('record_unparseable', `awslogs.data is not base64 gzip JSON: ${describeJsonError(err)}`)));
      return;
    }
    unwrap(inner, out, depth + 1, budget);
    return;
  }
  out.push(value);
}

/**
 * `text.trim()`, answered without the call for a line that starts with `{` and ends with `}`, as
 * nearly every NDJSON line does: trim is a call into the runtime, which a profile put at a twentieth
 * of a microsecond per line. For the record lines of /enrich and of `_bulk` alike.
 */
export function trimmed(text: string): string {
  if (text.charCodeAt(0) === OPEN_BRACE && text.charCodeAt(text.length - 1) === CLOSE_BRACE) return text;
  return text.trim();
}

/**
 * Splits NDJSON; a line that is not JSON becomes an UnreadableRecord naming its line number. With
 * `texts`, each record's line is kept at the record's index (see server/doc-json.ts), when the
 * line was the record alone.
 */
export function parseNdjson(lines: readonly string[], out: unknown[], budget?: InflateBudget, texts?: (SourceText | undefined)[]): void {
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    const raw = trimmed(lines[n]!);
    if (raw.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      out.push(new UnreadableRecord(itemError('record_unparseable', `line ${line} is not JSON: ${describeJsonError(err)}`)));
      texts?.push(undefined);
      continue;
    }
    // A line is a whole body of its own: an array on a line is a list of records.
    const before = out.length;
    unwrap(value, out, 0, budget);
    if (texts) {
      // One entry per record, so that texts[i] is records[i]'s (an envelope's records have none).
      if (out.length === before + 1 && out[before] === value && isPlainObject(value)) texts.push(sourceText(value, raw));
      else for (let i = before; i < out.length; i++) texts.push(undefined);
    }
  }
}

export interface BodyInfo {
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly maxBytes: number;
  /** Every record (or error entry) is answered in full: this bounds the answer, not only the body. */
  readonly maxRecords?: number;
}

/**
 * The records in a request body, in order. Throws InputError when the body as a whole is
 * unreadable. With `texts`, an NDJSON record's own line is kept at its index, for writing the
 * document back (server/doc-json.ts).
 */
export function readRecords(body: Buffer, info: BodyInfo, texts?: (SourceText | undefined)[]): unknown[] {
  const decoded = decodeBody(body, info.contentEncoding, info.maxBytes);
  const out: unknown[] = [];
  // Envelopes inside the body (CloudWatch Logs' base64 gzip) inflate within what is left of the limit.
  const budget: InflateBudget = { remaining: info.maxBytes - decoded.length };
  if (isNdjson(info.contentType)) {
    const lines = bodyLines(decoded);
    if (lines === undefined) throw new InputError('body_unparseable', 'the body is not valid UTF-8');
    parseNdjson(lines, out, budget, texts);
    return checkCount(out, info.maxRecords);
  }
  const text = decodeText(decoded);
  if (text === undefined) throw new InputError('body_unparseable', 'the body is not valid UTF-8');
  if (text.trim().length === 0) throw new InputError('body_unparseable', 'the body is empty; send CloudTrail JSON');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(
      'body_unparseable',
      `the body is not JSON (${describeJsonError(err)}); for one record per line send Content-Type: application/x-ndjson`,
    );
  }
  unwrap(value, out, 0, budget);
  return checkCount(out, info.maxRecords);
}

function checkCount(records: unknown[], max: number | undefined): unknown[] {
  if (max !== undefined && records.length > max) {
    throw new InputError('body_too_large', `the body holds ${records.length} records, more than MAX_RECORDS_PER_REQUEST (${max})`, 413);
  }
  return records;
}
