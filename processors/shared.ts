/**
 * Objects that many documents share and nothing changes: every document from one address carries
 * the same `source` object, and every address of one place the same `source.geo` (GeoIpDatabase
 * builds them once). A shared object holds its own JSON text, written at its first use
 * (server/doc-json.ts), in a private field that JSON.stringify, `Object.keys`, spread copies and
 * deep comparisons do not see; and a processor about to add to a document's object copies a shared
 * one first (`objectAt`).
 *
 * The text lives on the object rather than in a WeakMap beside it: a WeakMap of one entry per
 * address is read at a random place per document, and missed the CPU cache often enough to cost
 * what the cached text saved (measured); the object itself was just read.
 */

/** Returns the object it is given: a subclass's constructor then adds its private fields to that object. */
class Stamp {
  constructor(value: object) {
    return value as Stamp;
  }
}

/**
 * The JSON text is a private field added to the shared object itself (the base class's
 * constructor returns that object): adding one is a plain map transition, where
 * `Object.defineProperty` of a hidden symbol went through the runtime on every new address
 * (measured over the bench's addresses with a fresh cache: a first lookup 0.44 µs on average with
 * the symbol, 0.41 with the field).
 */
class SharedJson extends Stamp {
  #json: string | undefined = undefined;

  static isShared(value: object): boolean {
    return #json in value;
  }

  static json(value: object): string | undefined {
    if (!(#json in value)) return undefined;
    const holder = value as SharedJson;
    return (holder.#json ??= JSON.stringify(value));
  }
}

/** Marks an object as shared: from now on nothing may change it. */
export function share<T extends object>(value: T): T {
  new SharedJson(value);
  return value;
}

export function isShared(value: object): boolean {
  return SharedJson.isShared(value);
}

/** The JSON text of a shared object (written at its first use); undefined for any other object. */
export function sharedJson(value: object): string | undefined {
  return SharedJson.json(value);
}
