import type { ItemError } from './errors.js';
import { sharedJson } from '../processors/shared.js';
import { isPlainObject, type Doc } from '../processors/types.js';

/**
 * Writing enriched documents back as JSON without re-serialising what the client sent.
 *
 * The processors only ever add to a record: `@timestamp`, `source` and `impossible_travel` at the
 * top level, and `session_name` inside `userIdentity`. When a record arrived as one NDJSON line
 * (an /enrich NDJSON body, a `_bulk` source line), its text is kept, and the document is written
 * as that text with the added fields spliced in: the client's text is copied, not walked key by
 * key. `JSON.stringify` of a 1.4 KB CloudTrail record costs about 4 µs; the splice, about a fifth
 * of that, and its rope also flattens faster when the answer is sent (docs/performance.md).
 *
 * A record is spliced only when that gives the JSON value `JSON.stringify` of the document gives
 * (test/server/doc-json.test.ts and the golden test compare the two on generated records and on
 * every real sample): none of the added fields may be in the record already, and when
 * `session_name` goes in, the text must have `userIdentity` at the top level, spelled without
 * escapes, and no other key after it that could be a second one (no `\u` escape after it).
 * Otherwise, and for a record that came inside an envelope (an S3 file object, an EventBridge
 * event, a JSON array), the document is serialised with JSON.stringify. The spliced
 * text keeps the client's spelling (number formats, `\u` escapes, and a duplicate key, which
 * JSON.stringify would have dropped), and puts `session_name` first in `userIdentity`: key order
 * carries no meaning in JSON.
 */

/** A record and the one line of JSON text it was parsed from. */
export interface SourceText {
  readonly record: object;
  /** The record's JSON text (one NDJSON line, trimmed). */
  readonly text: string;
  /**
   * `identityOpenIn(text)`, found when the record is read: the text was just parsed and is still
   * in the CPU cache, where at writing time, a thousand records later, the search read it again
   * from memory. -1 when the record has no `userIdentity` object (no `session_name` can go in).
   */
  readonly identityOpen: number;
}

/** The top-level fields the processors add; a record that has one already is never spliced. */
const ADDED_TOP_LEVEL = ['@timestamp', 'source', 'impossible_travel'] as const;

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const COMMA = 44;
export const OPEN_BRACE = 123;
export const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i;
    i++;
  }
}

/** The index just past the string that starts at `i` (a `"`), or -1. */
function skipString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  return -1;
}

/** The index just past the JSON value that starts at `i`, or -1. The text is known to be valid JSON. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) {
        j = skipString(text, j) - 1;
        if (j < 0) return -1;
      } else if (d === OPEN_BRACE || d === OPEN_BRACKET) {
        depth++;
      } else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d === 32 || d === 9 || d === 10 || d === 13) break;
    j++;
  }
  return j;
}

const CLOUDTRAIL_START = '{"eventVersion":"';
/** A part of `"userIdentity"` rare in CloudTrail text, and where it starts in the key. */
const IDENTITY_PART = 'Identi';
const IDENTITY_PART_OFFSET = 5;
const IDENTITY_AFTER_VERSION = '","userIdentity":{';

/** Whether `text` has `part` at `at`, compared code unit by code unit (no search set-up, as indexOf has). */
export function hasAt(text: string, at: number, part: string): boolean {
  if (at < 0 || at + part.length > text.length) return false;
  for (let i = 0; i < part.length; i++) if (text.charCodeAt(at + i) !== part.charCodeAt(i)) return false;
  return true;
}

/**
 * The same for a record as CloudTrail writes it, `{"eventVersion":"1.09","userIdentity":{...`:
 * the start is compared in place, not walked; -1 for any other start.
 */
function cloudTrailIdentityOpen(text: string): number {
  if (!hasAt(text, 0, CLOUDTRAIL_START)) return -1;
  // The version: plain characters up to its closing quote (an escape sends the record to the walk).
  let at = CLOUDTRAIL_START.length;
  for (;;) {
    const c = text.charCodeAt(at);
    if (c === QUOTE) break;
    if (c === BACKSLASH || Number.isNaN(c) || at > 40) return -1;
    at++;
  }
  return hasAt(text, at, IDENTITY_AFTER_VERSION) ? at + IDENTITY_AFTER_VERSION.length : -1;
}

/**
 * Whether no other `userIdentity` key can follow `from`: JSON.parse keeps the last of duplicate
 * keys, and session_name must go into that one. A later key may also be spelled with `\u`
 * escapes (`"userIdentit\u0079"`: a letter can only be escaped that way), so any `\u` after the
 * identity sends the record to JSON.stringify too.
 */
function onlyIdentity(text: string, from: number): boolean {
  if (text.indexOf('\\u', from) !== -1) return false;
  // Searched by a 6-character part: V8 finds a pattern that short with a plain scan, where the full
  // key costs a Boyer-Moore table per call (0.66 against 0.23 µs per CloudTrail record, measured).
  for (let at = text.indexOf(IDENTITY_PART, from); at !== -1; at = text.indexOf(IDENTITY_PART, at + 1)) {
    if (hasAt(text, at - IDENTITY_PART_OFFSET, '"userIdentity"')) return false;
  }
  return true;
}

/**
 * Where the object value of the top-level key `"userIdentity"` opens (the index after its `{`),
 * or -1 when the text does not have it at the top level as an object, spells the key with
 * escapes, or may have the key a second time after it (see `onlyIdentity`).
 * CloudTrail writes it second, so the walk is short.
 */
export function identityOpenIn(text: string): number {
  const open = cloudTrailIdentityOpen(text);
  if (open > 0) return onlyIdentity(text, open) ? open : -1;
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return -1;
  i = skipSpace(text, i + 1);
  while (text.charCodeAt(i) === QUOTE) {
    const keyEnd = skipString(text, i);
    if (keyEnd < 0) return -1;
    const isIdentity = keyEnd - i === 14 && hasAt(text, i, '"userIdentity"');
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return -1;
    i = skipSpace(text, i + 1);
    if (isIdentity) return text.charCodeAt(i) === OPEN_BRACE && onlyIdentity(text, i + 1) ? i + 1 : -1;
    i = skipValue(text, i);
    if (i < 0) return -1;
    i = skipSpace(text, i);
    if (text.charCodeAt(i) !== COMMA) return -1;
    i = skipSpace(text, i + 1);
  }
  return -1;
}

/**
 * The record with its text, for `docJson`, when the record holds none of the fields the
 * processors add (so that splicing them in cannot write a key twice); undefined otherwise. Call it
 * on the record as parsed, before any processor has run.
 */
export function sourceText(record: Record<string, unknown>, text: string): SourceText | undefined {
  // ADDED_TOP_LEVEL, each read by its name (a loop over the names reads them as computed keys, slower in V8).
  if (record['@timestamp'] !== undefined || record.source !== undefined || record.impossible_travel !== undefined) return undefined;
  const identity = record.userIdentity;
  if (identity !== null && typeof identity === 'object' && (identity as Record<string, unknown>).session_name !== undefined) return undefined;
  return { record, text, identityOpen: isPlainObject(identity) ? identityOpenIn(text) : -1 };
}

/**
 * `text.lastIndexOf('}')`, found by a loop from the end: the text of an object ends with its `}`, so
 * this stops at once, where V8's lastIndexOf took a quarter of a microsecond per call (measured).
 */
function lastBrace(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) if (text.charCodeAt(i) === CLOSE_BRACE) return i;
  return -1;
}

/** `{` then only whitespace before `end`: an object with no members. */
function emptyBefore(text: string, end: number, open: number): boolean {
  return skipSpace(text, open) >= end;
}

const SESSION_NAME = '"session_name":';

/**
 * `JSON.stringify(text)` for a string: written as it is between quotes when it holds printable
 * ASCII only with no `"` or `\` (a timestamp, a session name), half the cost of the general
 * serialiser (measured); anything else goes to JSON.stringify.
 */
export function quoted(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/** `JSON.stringify(value)`, through `quoted` for a string. */
function valueJson(value: unknown): string | undefined {
  return typeof value === 'string' ? quoted(value) : JSON.stringify(value);
}

/** `"key":` for each added field, and the same after a comma: joined whole, not built per document. */
const MEMBER_NAME = ADDED_TOP_LEVEL.map((key) => `${JSON.stringify(key)}:`);
const NEXT_MEMBER_NAME = MEMBER_NAME.map((name) => `,${name}`);

/**
 * The added fields as `"key":value` members, comma-separated, or '' if there are none; with
 * `leadingComma`, a comma before the first. Two string joins per member (a template literal made
 * five, most of them new strings, measured in allocation samples). Each field is read by its name:
 * a loop over the names read them as computed keys, through V8's slower keyed lookup (a profile
 * put the loop at 0.4 µs per document).
 */
function addedMembers(doc: Doc, leadingComma: boolean): string {
  let out = '';
  const timestamp = doc['@timestamp'];
  if (timestamp !== undefined) out = member(out, 0, valueJson(timestamp), leadingComma);
  const source = doc.source;
  if (source !== undefined) out = member(out, 1, sourceJson(source), leadingComma);
  const travel = doc.impossible_travel;
  if (travel !== undefined) out = member(out, 2, JSON.stringify(travel), leadingComma);
  return out;
}

/** `out` with the member `k` of ADDED_TOP_LEVEL appended (nothing when its value writes as nothing). */
function member(out: string, k: number, json: string | undefined, leadingComma: boolean): string {
  if (json === undefined) return out;
  return out === '' && !leadingComma ? MEMBER_NAME[k]! + json : out + NEXT_MEMBER_NAME[k]! + json;
}

/**
 * `source` as JSON. Mostly the address's shared object (processors/shared.ts), whose JSON is
 * written once; otherwise written member by member, its `geo` being a shared object too.
 */
function sourceJson(source: unknown): string | undefined {
  if (source === null || typeof source !== 'object' || Array.isArray(source) || typeof (source as { toJSON?: unknown }).toJSON === 'function') {
    return JSON.stringify(source);
  }
  const shared = sharedJson(source);
  if (shared !== undefined) return shared;
  // What JSON.stringify writes for the object, member by member, with the known key names written
  // out and `address` and `ip` (usually the same string) quoted once: a quarter of the time the
  // general loop took (a Map of key names and a JSON.stringify per member; measured).
  let out = '';
  let lastText: string | undefined;
  let lastTextJson = '';
  for (const key in source) {
    const value = (source as Record<string, unknown>)[key];
    let json: string | undefined;
    if (typeof value === 'string') {
      if (value !== lastText) {
        lastText = value;
        lastTextJson = quoted(value);
      }
      json = lastTextJson;
    } else if (key === 'geo' && value !== null && typeof value === 'object') {
      json = sharedJson(value) ?? JSON.stringify(value);
    } else {
      json = JSON.stringify(value);
    }
    if (json === undefined) continue;
    const name = key === 'address' ? '"address"' : key === 'ip' ? '"ip"' : key === 'geo' ? '"geo"' : JSON.stringify(key);
    out = out === '' ? `${name}:${json}` : `${out},${name}:${json}`;
  }
  return `{${out}}`;
}

/**
 * A document as JSON text: the record's own text with the added fields spliced in, when `source`
 * is the text of this very record (see `sourceText`), JSON.stringify otherwise (an error entry in
 * the record's place, a record whose userIdentity cannot be found in the text). Throws where
 * JSON.stringify throws (nesting too deep to write back).
 */
export function docJson(doc: Doc | ItemError, source?: SourceText): string {
  if (source === undefined || source.record !== doc) return JSON.stringify(doc);
  const text = source.text;
  const end = lastBrace(text);
  let body: string;
  const identity = (doc as Doc).userIdentity;
  const sessionName = identity !== null && typeof identity === 'object' ? (identity as Record<string, unknown>).session_name : undefined;
  if (sessionName !== undefined) {
    const identityOpen = source.identityOpen;
    if (identityOpen < 0) return JSON.stringify(doc);
    const identityEmpty = text.charCodeAt(skipSpace(text, identityOpen)) === CLOSE_BRACE;
    const member = SESSION_NAME + valueJson(sessionName);
    body = text.slice(0, identityOpen) + (identityEmpty ? member : member + ',') + text.slice(identityOpen, end);
  } else {
    body = text.slice(0, end);
  }
  const added = addedMembers(doc as Doc, !emptyBefore(text, end, text.indexOf('{') + 1));
  return body + (added === '' ? '}' : added + '}');
}
