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
    const geo = info.geo;
    if (!geo) return doc;
    ctx.facts.geo = geo;
    const target: Doc = {};
    if (geo.cityName !== undefined) target.city_name = geo.cityName;
    if (geo.countryName !== undefined) target.country_name = geo.countryName;
    if (geo.countryIsoCode !== undefined) target.country_iso_code = geo.countryIsoCode;
    if (geo.regionName !== undefined) target.region_name = geo.regionName;
    if (geo.location !== undefined) target.location = { lat: geo.location.lat, lon: geo.location.lon };
    objectAt(doc, 'source').geo = target;
    return doc;
  }
}
