/**
 * Objects that many documents share and nothing changes: every document from one address carries
 * the same `source` object, and every address of one place the same `source.geo` (GeoIpDatabase
 * builds them once). A shared object holds its own JSON text, written at its first use
 * (server/doc-json.ts), in a property JSON.stringify, `Object.keys` and deep comparisons do not
 * see (a symbol, not enumerable); and a processor about to add to a document's object copies a
 * shared one first (`objectAt`).
 *
 * The text lives on the object rather than in a WeakMap beside it: a WeakMap of one entry per
 * address is read at a random place per document, and missed the CPU cache often enough to cost
 * what the cached text saved (measured); the object itself was just read.
 */

const JSON_TEXT = Symbol('impossible-travel.sharedJson');

type Holder = { [JSON_TEXT]?: string };

/** Marks an object as shared: from now on nothing may change it. */
export function share<T extends object>(value: T): T {
  Object.defineProperty(value, JSON_TEXT, { value: undefined, writable: true, enumerable: false, configurable: false });
  return value;
}

export function isShared(value: object): boolean {
  return Object.hasOwn(value, JSON_TEXT);
}

/** The JSON text of a shared object (written at its first use); undefined for any other object. */
export function sharedJson(value: object): string | undefined {
  const text = (value as Holder)[JSON_TEXT];
  if (text !== undefined || !isShared(value)) return text;
  const json = JSON.stringify(value);
  (value as Holder)[JSON_TEXT] = json;
  return json;
}
