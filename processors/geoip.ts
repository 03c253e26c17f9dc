import type { GeoIpDatabase } from './geoip-database.js';
import { checkOptions } from './options.js';
import { objectAt, type Context, type Doc, type Processor } from './types.js';

/**
 * Adds `source.geo.*` (ECS names) for the address `normalize-cloudtrail` validated. An address the
 * database does not know is simply not enriched. Private and reserved addresses are looked up too
 * (a corporate database may know them) but are marked as unusable for travel.
 */

export const TYPE = 'geoip';

export interface GeoIpOptions {
  readonly tag?: string;
  readonly database: GeoIpDatabase;
}

/** The number of enumerable keys, counted without allocating (Object.keys makes an array). */
function keyCount(obj: object): number {
  let n = 0;
  for (const _key in obj) n++;
  return n;
}

export class GeoIp implements Processor {
  readonly type = TYPE;
  readonly tag: string;
  private readonly database: GeoIpDatabase;

  constructor(options: GeoIpOptions) {
    checkOptions(TYPE, options.tag ?? TYPE, options, ['tag', 'database']);
    this.tag = options.tag ?? TYPE;
    this.database = options.database;
  }

  process(doc: Doc, ctx: Context): Doc {
    const ip = ctx.facts.ip;
    if (ip === undefined) return doc;
    const info = this.database.resolve(ip, ctx.facts.ipv4);
    ctx.facts.ip = info.ip; // the shared string: histories keep it for every sighting of the address
    ctx.facts.ipRoutable = info.routable;
    if (info.geo) ctx.facts.geo = info.geo;
    // `source` as normalize-cloudtrail made it (address and ip, the text looked up): the address's
    // shared object says the same and more, and its JSON is written once (processors/shared.ts).
    const own = ctx.facts.ownSource;
    if (own !== undefined && doc.source === own && own.address === ip && own.ip === ip && keyCount(own) === 2) {
      doc.source = info.ecsSource;
    } else if (info.ecsGeo) {
      objectAt(doc, 'source').geo = info.ecsGeo;
    }
    return doc;
  }
}
