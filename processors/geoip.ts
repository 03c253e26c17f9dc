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
    const info = this.database.resolve(ip);
    ctx.facts.ip = info.ip; // the shared string: histories keep it for every sighting of the address
    ctx.facts.ipRoutable = info.routable;
    if (!info.geo) return doc;
    ctx.facts.geo = info.geo;
    // One object per address, shared by every document from it (never changed): nothing to build per record.
    objectAt(doc, 'source').geo = info.ecsGeo;
    return doc;
  }
}
