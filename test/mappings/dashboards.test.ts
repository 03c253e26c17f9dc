import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The saved objects of mappings/dashboards/ are imported as they are, and a broken one shows up
 * only when an analyst opens the dashboard: a misspelt field is an empty column or a failing
 * panel, a dangling reference an import error. So every object is checked here against the index
 * templates: each field a search, visualization or map uses must be mapped, with a type its use
 * needs (a terms aggregation on a text field fails at query time). The checks are functions so
 * that the tests at the end can prove they fail on a misspelt field.
 */

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FLAVORS = ['opensearch-dashboards', 'kibana'] as const;
type Flavor = (typeof FLAVORS)[number];

interface Reference {
  readonly name: string;
  readonly type: string;
  readonly id: string;
}

interface SavedObject {
  readonly id: string;
  readonly type: string;
  readonly attributes: Record<string, unknown>;
  readonly references: Reference[];
  readonly migrationVersion: Record<string, string>;
}

interface MappingNode {
  type?: string;
  enabled?: boolean;
  properties?: Record<string, MappingNode>;
  fields?: Record<string, MappingNode>;
}

interface Template {
  readonly file: string;
  readonly indexPatterns: readonly string[];
  readonly mappings: MappingNode;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function fileOf(flavor: Flavor): string {
  return join(REPO_ROOT, 'mappings', 'dashboards', `${flavor}.ndjson`);
}

/** Each non-empty line as parsed JSON; a line that does not parse fails with its number. */
function parseNdjson(text: string, file: string): unknown[] {
  const out: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line));
    } catch (err) {
      assert.fail(`${file}:${i + 1} is not JSON: ${(err as Error).message}`);
    }
  });
  return out;
}

/** Why the value is not a saved object in the export format, or undefined when it is. */
function shapeProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a JSON object';
  if (typeof v.id !== 'string' || v.id === '') return 'no id';
  if (typeof v.type !== 'string' || v.type === '') return `${v.id}: no type`;
  if (!isObject(v.attributes)) return `${v.id}: no attributes object`;
  if (typeof v.attributes.title !== 'string' || v.attributes.title === '') return `${v.id}: no attributes.title`;
  if (!Array.isArray(v.references)) return `${v.id}: no references array`;
  for (const r of v.references) {
    if (!isObject(r) || typeof r.name !== 'string' || typeof r.type !== 'string' || typeof r.id !== 'string') {
      return `${v.id}: a reference without name, type and id: ${JSON.stringify(r)}`;
    }
  }
  if (!isObject(v.migrationVersion)) return `${v.id}: no migrationVersion object`;
  return undefined;
}

function loadObjects(flavor: Flavor): SavedObject[] {
  const file = fileOf(flavor);
  const values = parseNdjson(readFileSync(file, 'utf8'), file);
  values.forEach((v, i) => {
    const problem = shapeProblem(v);
    if (problem) assert.fail(`${file}: object ${i + 1}: ${problem}`);
  });
  return values as SavedObject[];
}

function loadTemplates(): Template[] {
  return ['cloudtrail', 'alerts', 'state'].map((kind) => {
    const file = join(REPO_ROOT, 'mappings', `${kind}-template.json`);
    const t = JSON.parse(readFileSync(file, 'utf8')) as { index_patterns: string[]; template: { mappings: MappingNode } };
    return { file, indexPatterns: t.index_patterns, mappings: t.template.mappings };
  });
}

/** A JSON string attribute (visState, searchSourceJSON, ...) parsed; a problem when it does not parse. */
function jsonAttribute(o: SavedObject, value: unknown, where: string, problems: string[]): Record<string, unknown> | unknown[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    problems.push(`${o.type} [${o.id}]: ${where} is not a JSON string`);
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(value);
    if (isObject(parsed) || Array.isArray(parsed)) return parsed;
    problems.push(`${o.type} [${o.id}]: ${where} is not a JSON object or array`);
  } catch (err) {
    problems.push(`${o.type} [${o.id}]: ${where} is not JSON: ${(err as Error).message}`);
  }
  return undefined;
}

const searchSourceOf = (o: SavedObject, problems: string[]): Record<string, unknown> | undefined => {
  const meta = o.attributes.kibanaSavedObjectMeta;
  const parsed = isObject(meta) ? jsonAttribute(o, meta.searchSourceJSON, 'kibanaSavedObjectMeta.searchSourceJSON', problems) : undefined;
  return isObject(parsed) ? parsed : undefined;
};

// ------------------------------------------------------------------ references

/** Every `*RefName` an object's attributes use, with the reference type it must have. */
function refNamesUsed(o: SavedObject, problems: string[]): { name: string; types: readonly string[]; where: string }[] {
  const used: { name: string; types: readonly string[]; where: string }[] = [];
  const source = searchSourceOf(o, problems);
  if (source) {
    if (typeof source.indexRefName === 'string') used.push({ name: source.indexRefName, types: ['index-pattern'], where: 'searchSourceJSON.indexRefName' });
    if ('index' in source) problems.push(`${o.type} [${o.id}]: searchSourceJSON.index is a raw id; use indexRefName and a reference`);
    const filters = Array.isArray(source.filter) ? source.filter : [];
    filters.forEach((f, i) => {
      const meta = isObject(f) && isObject(f.meta) ? f.meta : undefined;
      if (meta && typeof meta.indexRefName === 'string') used.push({ name: meta.indexRefName, types: ['index-pattern'], where: `searchSourceJSON.filter[${i}].meta.indexRefName` });
      if (meta && 'index' in meta) problems.push(`${o.type} [${o.id}]: filter[${i}].meta.index is a raw id; use indexRefName and a reference`);
    });
  }
  if (typeof o.attributes.savedSearchRefName === 'string') used.push({ name: o.attributes.savedSearchRefName, types: ['search'], where: 'savedSearchRefName' });
  if (o.type === 'dashboard') {
    const panels = jsonAttribute(o, o.attributes.panelsJSON, 'panelsJSON', problems);
    (Array.isArray(panels) ? panels : []).forEach((p, i) => {
      if (!isObject(p) || typeof p.panelRefName !== 'string') {
        problems.push(`dashboard [${o.id}]: panel ${i} has no panelRefName`);
        return;
      }
      used.push({ name: p.panelRefName, types: ['visualization', 'search', 'map', 'lens'], where: `panelsJSON[${i}].panelRefName` });
    });
  }
  if (o.type === 'map') {
    const layers = jsonAttribute(o, o.attributes.layerListJSON, 'layerListJSON', problems);
    (Array.isArray(layers) ? layers : []).forEach((l, i) => {
      const sd = isObject(l) && isObject(l.sourceDescriptor) ? l.sourceDescriptor : undefined;
      if (sd && typeof sd.indexPatternRefName === 'string') used.push({ name: sd.indexPatternRefName, types: ['index-pattern'], where: `layerListJSON[${i}].sourceDescriptor.indexPatternRefName` });
      if (sd && 'indexPatternId' in sd) problems.push(`map [${o.id}]: layer ${i} has a raw indexPatternId; use indexPatternRefName and a reference`);
    });
  }
  return used;
}

/**
 * Every reference names an object of this file with its type; every *RefName has its reference;
 * no reference is left unused (it would make the import fail on an object nothing shows).
 */
function referenceProblems(objects: readonly SavedObject[]): string[] {
  const problems: string[] = [];
  const byKey = new Set(objects.map((o) => `${o.type}\u0000${o.id}`));
  for (const o of objects) {
    const names = new Set<string>();
    for (const r of o.references) {
      if (names.has(r.name)) problems.push(`${o.type} [${o.id}]: two references named ${r.name}`);
      names.add(r.name);
      if (!byKey.has(`${r.type}\u0000${r.id}`)) {
        const sameId = objects.find((x) => x.id === r.id);
        problems.push(
          `${o.type} [${o.id}]: reference ${r.name} -> ${r.type} [${r.id}] is not in the file` + (sameId ? ` (there is a ${sameId.type} with that id)` : ''),
        );
      }
    }
    const used = refNamesUsed(o, problems);
    for (const u of used) {
      const ref = o.references.find((r) => r.name === u.name);
      if (!ref) problems.push(`${o.type} [${o.id}]: ${u.where} is ${u.name}, which no reference has`);
      else if (!u.types.includes(ref.type)) problems.push(`${o.type} [${o.id}]: ${u.where} -> ${ref.type}, expected ${u.types.join(' or ')}`);
    }
    for (const r of o.references) {
      if (!used.some((u) => u.name === r.name)) problems.push(`${o.type} [${o.id}]: reference ${r.name} is used by nothing`);
    }
  }
  return problems;
}

// ------------------------------------------------------------------ fields

type Need = 'exists' | 'sortable' | 'aggregatable' | 'date' | 'numeric' | 'numeric_or_date' | 'geo_point';

interface FieldUse {
  readonly object: string;
  readonly where: string;
  readonly field: string;
  readonly need: Need;
  /** The index pattern the field is looked up in. */
  readonly indexPatternId: string | undefined;
}

const NUMERIC = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long', 'double', 'float', 'half_float', 'scaled_float']);
const DATE = new Set(['date', 'date_nanos']);
/** doc_values types: what terms, cardinality and sorting work on. Not text, not geo_point. */
const AGGREGATABLE = new Set([...NUMERIC, ...DATE, 'keyword', 'constant_keyword', 'ip', 'boolean']);

const NEED_OK: Record<Need, (type: string) => boolean> = {
  exists: () => true,
  sortable: (t) => AGGREGATABLE.has(t),
  aggregatable: (t) => AGGREGATABLE.has(t),
  date: (t) => DATE.has(t),
  numeric: (t) => NUMERIC.has(t),
  numeric_or_date: (t) => NUMERIC.has(t) || DATE.has(t),
  geo_point: (t) => t === 'geo_point',
};

/** What each aggregation needs of its field (the field lists of the Dashboards/Kibana agg types). */
const AGG_NEEDS: Record<string, Need | null> = {
  count: null,
  terms: 'aggregatable',
  significant_terms: 'aggregatable',
  cardinality: 'aggregatable',
  date_histogram: 'date',
  date_range: 'date',
  histogram: 'numeric',
  range: 'numeric',
  avg: 'numeric',
  sum: 'numeric',
  median: 'numeric',
  percentiles: 'numeric',
  std_dev: 'numeric',
  min: 'numeric_or_date',
  max: 'numeric_or_date',
  top_hits: 'exists',
  geohash_grid: 'geo_point',
  geotile_grid: 'geo_point',
  geo_centroid: 'geo_point',
  geo_bounds: 'geo_point',
};

/** The mapped type at a dotted path (through properties and multi-field `fields`), or why there is none. */
function resolveField(mappings: MappingNode, path: string): { type: string } | { problem: string } {
  let node: MappingNode = mappings;
  const parts = path.split('.');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const child: MappingNode | undefined = node.properties?.[part] ?? node.fields?.[part];
    if (!child) return { problem: `not mapped (nothing at ${parts.slice(0, i + 1).join('.')})` };
    if (child.enabled === false) return { problem: `inside ${parts.slice(0, i + 1).join('.')}, an object with enabled:false (not searchable)` };
    node = child;
  }
  if (node.type === undefined || node.type === 'object' || node.type === 'nested') return { problem: 'is an object, not a field' };
  return { type: node.type };
}

function fieldUses(objects: readonly SavedObject[], problems: string[]): FieldUse[] {
  const uses: FieldUse[] = [];
  const refId = (o: SavedObject, name: unknown): string | undefined => o.references.find((r) => r.name === name)?.id;
  const sourceIndex = (o: SavedObject): string | undefined => {
    const source = searchSourceOf(o, problems);
    if (source && typeof source.indexRefName === 'string') return refId(o, source.indexRefName);
    const searchId = refId(o, o.attributes.savedSearchRefName);
    const search = objects.find((x) => x.type === 'search' && x.id === searchId);
    return search ? sourceIndex(search) : undefined;
  };

  for (const o of objects) {
    const name = `${o.type} [${o.id}]`;
    const use = (where: string, field: unknown, need: Need, indexPatternId = sourceIndex(o)): void => {
      if (typeof field !== 'string' || field === '') problems.push(`${name}: ${where} is not a field name: ${JSON.stringify(field)}`);
      else uses.push({ object: name, where, field, need, indexPatternId });
    };

    if (o.type === 'index-pattern') {
      if (o.attributes.timeFieldName !== undefined) use('timeFieldName', o.attributes.timeFieldName, 'date', o.id);
      continue;
    }

    const source = searchSourceOf(o, problems);
    if (source && o.type !== 'dashboard') {
      const filters = Array.isArray(source.filter) ? source.filter : [];
      filters.forEach((f, i) => {
        if (!isObject(f)) return;
        const meta = isObject(f.meta) ? f.meta : {};
        if (typeof meta.key === 'string') use(`filter[${i}].meta.key`, meta.key, 'exists');
        if (isObject(f.exists)) use(`filter[${i}].exists.field`, f.exists.field, 'exists');
        for (const clause of ['match_phrase', 'match', 'term', 'terms', 'range', 'prefix', 'wildcard']) {
          const body = isObject(f.query) && isObject(f.query[clause]) ? f.query[clause] : isObject(f[clause]) ? f[clause] : undefined;
          if (isObject(body)) for (const key of Object.keys(body)) use(`filter[${i}].${clause}`, key, 'exists');
        }
      });
      const query = isObject(source.query) ? source.query : undefined;
      if (query && typeof query.query === 'string') {
        // field:value in DQL and Lucene alike; enough for the short queries saved objects carry.
        for (const m of query.query.matchAll(/(?:^|[\s(])(@?[A-Za-z_][\w.@-]*)\s*:/g)) use('searchSourceJSON.query', m[1], 'exists');
      }
    }
    if (source && o.type === 'dashboard') {
      const filters = Array.isArray(source.filter) ? source.filter : [];
      const query = isObject(source.query) && typeof source.query.query === 'string' ? source.query.query : '';
      if (filters.length > 0 || query.trim() !== '') problems.push(`${name}: dashboard-wide query or filters apply to every index pattern; this test does not check them yet`);
    }

    if (o.type === 'search') {
      const columns = o.attributes.columns;
      if (!Array.isArray(columns) || columns.length === 0) problems.push(`${name}: no columns`);
      else columns.forEach((c, i) => (c === '_source' ? undefined : use(`columns[${i}]`, c, 'exists')));
      const sort = o.attributes.sort;
      if (!Array.isArray(sort)) problems.push(`${name}: sort is not a list of [field, direction]`);
      else
        sort.forEach((s, i) => {
          if (!Array.isArray(s) || s.length !== 2 || !['asc', 'desc'].includes(s[1] as string)) problems.push(`${name}: sort[${i}] is not [field, "asc"|"desc"]`);
          else use(`sort[${i}]`, s[0], 'sortable');
        });
    }

    if (o.type === 'visualization') {
      const vis = jsonAttribute(o, o.attributes.visState, 'visState', problems);
      if (!isObject(vis)) {
        problems.push(`${name}: no visState`);
        continue;
      }
      if (vis.title !== o.attributes.title) problems.push(`${name}: visState.title "${String(vis.title)}" differs from attributes.title "${String(o.attributes.title)}"`);
      jsonAttribute(o, o.attributes.uiStateJSON ?? '{}', 'uiStateJSON', problems);
      const aggs = Array.isArray(vis.aggs) ? vis.aggs : [];
      aggs.forEach((a, i) => {
        if (!isObject(a) || typeof a.type !== 'string') {
          problems.push(`${name}: visState.aggs[${i}] has no type`);
          return;
        }
        const need = AGG_NEEDS[a.type];
        if (need === undefined) {
          problems.push(`${name}: visState.aggs[${i}] is a ${a.type} aggregation, which this test has no rule for`);
          return;
        }
        const params = isObject(a.params) ? a.params : {};
        if (need === null) {
          if (params.field !== undefined) problems.push(`${name}: visState.aggs[${i}] (${a.type}) takes no field`);
          return;
        }
        use(`visState.aggs[${i}] (${a.type}) params.field`, params.field, need);
        if (a.type === 'top_hits' && params.sortField !== undefined) use(`visState.aggs[${i}] params.sortField`, params.sortField, 'sortable');
      });
    }

    if (o.type === 'map') {
      const layers = jsonAttribute(o, o.attributes.layerListJSON, 'layerListJSON', problems);
      (Array.isArray(layers) ? layers : []).forEach((l, i) => {
        const sd = isObject(l) && isObject(l.sourceDescriptor) ? l.sourceDescriptor : undefined;
        if (!sd || typeof sd.indexPatternRefName !== 'string') return; // a basemap reads no index
        const index = refId(o, sd.indexPatternRefName);
        const at = `layerListJSON[${i}]`;
        use(`${at}.sourceDescriptor.geoField`, sd.geoField, 'geo_point', index);
        const metrics = Array.isArray(sd.metrics) ? sd.metrics : [];
        metrics.forEach((m, k) => {
          if (!isObject(m) || typeof m.type !== 'string' || m.type === 'count') return;
          const need = AGG_NEEDS[m.type] ?? 'numeric';
          use(`${at}.sourceDescriptor.metrics[${k}] (${m.type})`, m.field, need, index);
        });
        const tooltips = Array.isArray(sd.tooltipProperties) ? sd.tooltipProperties : [];
        tooltips.forEach((t, k) => use(`${at}.sourceDescriptor.tooltipProperties[${k}]`, t, 'exists', index));
        for (const key of ['sortField', 'topHitsSplitField', 'termsFieldName']) {
          if (typeof sd[key] === 'string' && sd[key] !== '') use(`${at}.sourceDescriptor.${key}`, sd[key], 'aggregatable', index);
        }
        // Dynamic styles on a grid source read its aggregation results (doc_count, max_of_<field>).
        const props = isObject(l) && isObject(l.style) && isObject(l.style.properties) ? l.style.properties : {};
        for (const [prop, value] of Object.entries(props)) {
          const field = isObject(value) && isObject(value.options) && isObject(value.options.field) ? value.options.field : undefined;
          if (!field || field.origin !== 'source' || typeof field.name !== 'string') continue;
          if (sd.type === 'ES_GEO_GRID') {
            const agg = /^(?:max|min|avg|sum|cardinality)_of_(.+)$/.exec(field.name);
            if (agg) use(`${at}.style.${prop}`, agg[1], 'numeric', index);
            else if (field.name !== 'doc_count') problems.push(`${name}: ${at}.style.${prop} reads ${field.name}, which the grid source does not produce`);
          } else {
            use(`${at}.style.${prop}`, field.name, 'exists', index);
          }
        }
      });
    }
  }
  return uses;
}

/** Every field use checked against the template its index pattern's title is installed for. */
function fieldProblems(objects: readonly SavedObject[], templates: readonly Template[]): string[] {
  const problems: string[] = [];
  const uses = fieldUses(objects, problems);
  for (const u of uses) {
    const at = `${u.object}: ${u.where} "${u.field}"`;
    const ip = objects.find((o) => o.type === 'index-pattern' && o.id === u.indexPatternId);
    if (!ip) {
      problems.push(`${at}: no index pattern to look the field up in`);
      continue;
    }
    const title = ip.attributes.title;
    const template = templates.find((t) => t.indexPatterns.includes(title as string));
    if (!template) {
      problems.push(`${at}: index pattern "${String(title)}" is not the index_patterns of any template in mappings/`);
      continue;
    }
    const r = resolveField(template.mappings, u.field);
    if ('problem' in r) problems.push(`${at}: ${r.problem} in ${template.file.slice(REPO_ROOT.length + 1)}`);
    else if (!NEED_OK[u.need](r.type)) problems.push(`${at}: mapped as ${r.type}, but this use needs ${u.need.replace(/_/g, ' ')}`);
  }
  return problems;
}

// ------------------------------------------------------------------ dashboard

const GRID_COLUMNS = 48;

function dashboardProblems(objects: readonly SavedObject[]): string[] {
  const problems: string[] = [];
  const dashboards = objects.filter((o) => o.type === 'dashboard');
  if (dashboards.length === 0) problems.push('no dashboard');
  for (const d of dashboards) {
    const panels = jsonAttribute(d, d.attributes.panelsJSON, 'panelsJSON', problems);
    if (!Array.isArray(panels) || panels.length === 0) {
      problems.push(`dashboard [${d.id}]: no panels`);
      continue;
    }
    const cells = new Map<string, string>();
    const indices = new Set<string>();
    panels.forEach((p, i) => {
      if (!isObject(p)) return void problems.push(`dashboard [${d.id}]: panel ${i} is not an object`);
      const ref = d.references.find((r) => r.name === p.panelRefName);
      const target = ref && objects.find((o) => o.type === ref.type && o.id === ref.id);
      if (!target) problems.push(`dashboard [${d.id}]: panel ${i} (${String(p.panelRefName)}) shows no object of this file`);
      else if (!['visualization', 'search', 'map'].includes(target.type)) problems.push(`dashboard [${d.id}]: panel ${i} shows a ${target.type}`);
      if (typeof p.panelIndex !== 'string' || indices.has(p.panelIndex)) problems.push(`dashboard [${d.id}]: panel ${i} has a missing or repeated panelIndex`);
      else indices.add(p.panelIndex);
      const g = isObject(p.gridData) ? p.gridData : {};
      const [x, y, w, h] = [g.x, g.y, g.w, g.h].map((n) => (typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : NaN)) as [number, number, number, number];
      if ([x, y, w, h].some(Number.isNaN) || w === 0 || h === 0 || x + w > GRID_COLUMNS) {
        problems.push(`dashboard [${d.id}]: panel ${i} gridData ${JSON.stringify(g)} is not a box inside ${GRID_COLUMNS} columns`);
        return;
      }
      if (g.i !== p.panelIndex) problems.push(`dashboard [${d.id}]: panel ${i} gridData.i differs from panelIndex`);
      for (let cx = x; cx < x + w; cx++) {
        for (let cy = y; cy < y + h; cy++) {
          const other = cells.get(`${cx},${cy}`);
          if (other !== undefined) return void problems.push(`dashboard [${d.id}]: panel ${i} overlaps panel ${other}`);
          cells.set(`${cx},${cy}`, String(i));
        }
      }
    });
    if (d.references.length !== panels.length) problems.push(`dashboard [${d.id}]: ${d.references.length} references for ${panels.length} panels`);
  }
  return problems;
}

// ------------------------------------------------------------------ what each file may hold

/**
 * The newest migrationVersion each server knows per type. An object that claims a newer one is
 * refused by the server's migrator ("belongs to a more recent version"). OpenSearch Dashboards
 * 2.19: the `migrations` of its saved object types (index_pattern_migrations.ts, search_migrations.ts,
 * visualization_migrations.ts, dashboard_migrations.ts). Kibana: versions that every 8.x
 * imports and migrates onward (a 7.10 export; map as of 7.14, before the 8.0 and 8.1 layer migrations).
 */
const MAX_MIGRATION: Record<Flavor, Record<string, string>> = {
  'opensearch-dashboards': { 'index-pattern': '7.6.0', search: '7.9.3', visualization: '7.10.0', dashboard: '7.9.3' },
  kibana: { 'index-pattern': '7.6.0', search: '7.9.3', visualization: '7.10.0', dashboard: '7.9.3', map: '7.14.0' },
};

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const T = 'impossible_travel.triggering_locations';

function visOf(o: SavedObject | undefined): { type: string; aggs: { type: string; schema?: string; field?: string }[] } {
  assert.ok(o, 'object not found');
  const vis = JSON.parse(o.attributes.visState as string) as { type: string; aggs: { type: string; schema?: string; params?: { field?: string } }[] };
  return { type: vis.type, aggs: vis.aggs.map((a) => ({ type: a.type, schema: a.schema, field: a.params?.field })) };
}

const clone = <V>(v: V): V => structuredClone(v);

const TEMPLATES = loadTemplates();

for (const flavor of FLAVORS) {
  describe(`mappings/dashboards/${flavor}.ndjson`, () => {
    const objects = loadObjects(flavor);
    const byId = (id: string): SavedObject | undefined => objects.find((o) => o.id === id);

    it('every line parses as a saved object with id, type, attributes, references and migrationVersion', () => {
      assert.ok(objects.length >= 9, `only ${objects.length} objects`);
    });

    it('ids are unique', () => {
      const seen = new Set<string>();
      const repeated = objects.map((o) => o.id).filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
      assert.deepEqual(repeated, []);
    });

    it(`holds only types ${flavor} imports, each with a migrationVersion it knows`, () => {
      const problems: string[] = [];
      for (const o of objects) {
        const max = MAX_MIGRATION[flavor][o.type];
        if (!max) {
          problems.push(`${o.type} [${o.id}]: ${flavor} does not take this type here`);
          continue;
        }
        const v = o.migrationVersion[o.type];
        if (typeof v !== 'string') problems.push(`${o.type} [${o.id}]: migrationVersion has no "${o.type}" entry`);
        else if (compareVersions(v, max) > 0) problems.push(`${o.type} [${o.id}]: migrationVersion ${v} is newer than ${flavor} knows (${max})`);
        const other = Object.keys(o.migrationVersion).filter((k) => k !== o.type);
        if (other.length > 0) problems.push(`${o.type} [${o.id}]: migrationVersion names other types: ${other.join(', ')}`);
      }
      assert.deepEqual(problems, []);
    });

    it('every reference resolves to an object of the file with the matching type, and every *RefName has one', () => {
      assert.deepEqual(referenceProblems(objects), []);
    });

    it('every field used exists in the index template of its index pattern, with a type its use needs', () => {
      assert.deepEqual(fieldProblems(objects, TEMPLATES), []);
    });

    it("the dashboard's panels each show a visualization, search or map of the file, laid out without overlap", () => {
      assert.deepEqual(dashboardProblems(objects), []);
    });

    it('index patterns for CloudTrail and alerts carry the default index names and @timestamp', () => {
      const titles = objects.filter((o) => o.type === 'index-pattern').map((o) => [o.id, o.attributes.title, o.attributes.timeFieldName]);
      assert.deepEqual(titles.sort(), [
        ['impossible-travel-alerts-index-pattern', 'impossible-travel-alerts*', '@timestamp'],
        ['impossible-travel-cloudtrail-index-pattern', 'cloudtrail-*', '@timestamp'],
      ]);
    });

    it('the alerts search shows the columns an analyst triages by, newest first', () => {
      const search = byId('impossible-travel-alerts-search');
      assert.ok(search);
      assert.deepEqual(search.attributes.columns, [
        'userIdentity.accessKeyId',
        'userIdentity.session_name',
        'userIdentity.arn',
        `${T}.first_location.city`,
        `${T}.first_location.country`,
        `${T}.second_location.city`,
        `${T}.second_location.country`,
        `${T}.travel_distance`,
        `${T}.travel_time_human_readable`,
        `${T}.travel_speed`,
        'message',
      ]);
      assert.deepEqual(search.attributes.sort, [['@timestamp', 'desc']]);
      assert.equal(search.references[0]?.id, 'impossible-travel-alerts-index-pattern');
    });

    it('alerts over time is a date histogram on @timestamp', () => {
      const vis = visOf(byId('impossible-travel-alerts-over-time'));
      assert.ok(vis.aggs.some((a) => a.type === 'date_histogram' && a.field === '@timestamp'));
    });

    it('top access keys are terms on userIdentity.accessKeyId', () => {
      const vis = visOf(byId('impossible-travel-top-access-keys'));
      assert.ok(vis.aggs.some((a) => a.type === 'terms' && a.field === 'userIdentity.accessKeyId'));
    });

    it('top country pairs split by the first country, then the second', () => {
      const vis = visOf(byId('impossible-travel-top-country-pairs'));
      const buckets = vis.aggs.filter((a) => a.type === 'terms').map((a) => a.field);
      assert.deepEqual(buckets, [`${T}.first_location.country`, `${T}.second_location.country`]);
    });

    it('the map plots the second sighting of each alert (a geo_point)', () => {
      const map = byId('impossible-travel-alert-locations-map');
      assert.ok(map);
      if (flavor === 'opensearch-dashboards') {
        const vis = visOf(map);
        assert.equal(vis.type, 'tile_map');
        assert.deepEqual(vis.aggs.find((a) => a.type === 'geohash_grid')?.field, `${T}.second_location.location`);
      } else {
        // Kibana 8 no longer creates coordinate maps (tile_map); its Maps app draws this one.
        assert.equal(map.type, 'map');
        const layers = JSON.parse(map.attributes.layerListJSON as string) as { sourceDescriptor: { geoField?: string } }[];
        assert.ok(layers.some((l) => l.sourceDescriptor.geoField === `${T}.second_location.location`));
      }
    });

    it('the dashboard shows all four visualizations and both searches', () => {
      const dashboard = objects.find((o) => o.type === 'dashboard');
      assert.ok(dashboard);
      const shown = dashboard.references.map((r) => r.id).sort();
      const expected = objects.filter((o) => o.type === 'visualization' || o.type === 'search' || o.type === 'map').map((o) => o.id).sort();
      assert.deepEqual(shown, expected);
      assert.equal(expected.length, 6);
    });
  });
}

describe('the checks of the dashboards test fail on broken objects', () => {
  const objects = loadObjects('opensearch-dashboards');
  const kibana = loadObjects('kibana');
  const mutate = (source: readonly SavedObject[], id: string, change: (o: SavedObject) => void): SavedObject[] => {
    const copy = clone(source) as SavedObject[];
    const o = copy.find((x) => x.id === id);
    assert.ok(o, id);
    change(o);
    return copy;
  };
  const editVis = (o: SavedObject, change: (vis: { aggs: { type: string; params: Record<string, unknown> }[] }) => void): void => {
    const vis = JSON.parse(o.attributes.visState as string);
    change(vis);
    o.attributes.visState = JSON.stringify(vis);
  };

  it('a misspelt column', () => {
    const broken = mutate(objects, 'impossible-travel-alerts-search', (o) => {
      (o.attributes.columns as string[])[0] = 'userIdentity.accesKeyId';
    });
    assert.deepEqual(fieldProblems(broken, TEMPLATES), [
      'search [impossible-travel-alerts-search]: columns[0] "userIdentity.accesKeyId": not mapped (nothing at userIdentity.accesKeyId) in mappings/alerts-template.json',
    ]);
  });

  it('a misspelt aggregation field', () => {
    const broken = mutate(objects, 'impossible-travel-top-country-pairs', (o) =>
      editVis(o, (vis) => {
        vis.aggs[2]!.params.field = `${T}.second_locaton.country`;
      }),
    );
    assert.deepEqual(fieldProblems(broken, TEMPLATES), [
      `visualization [impossible-travel-top-country-pairs]: visState.aggs[2] (terms) params.field "${T}.second_locaton.country": not mapped (nothing at ${T}.second_locaton) in mappings/alerts-template.json`,
    ]);
  });

  it('a terms aggregation on a text field', () => {
    const broken = mutate(objects, 'impossible-travel-top-access-keys', (o) =>
      editVis(o, (vis) => {
        vis.aggs[3]!.params.field = 'message';
      }),
    );
    assert.deepEqual(fieldProblems(broken, TEMPLATES), [
      'visualization [impossible-travel-top-access-keys]: visState.aggs[3] (terms) params.field "message": mapped as text, but this use needs aggregatable',
    ]);
  });

  it('a coordinate map on a field that is not a geo_point', () => {
    const broken = mutate(objects, 'impossible-travel-alert-locations-map', (o) =>
      editVis(o, (vis) => {
        vis.aggs[1]!.params.field = `${T}.second_location.city`;
      }),
    );
    assert.match(fieldProblems(broken, TEMPLATES).join('\n'), /geohash_grid\) params\.field .*second_location\.city": mapped as keyword, but this use needs geo point/);
  });

  it('a Kibana map layer on a misspelt geo field', () => {
    const broken = mutate(kibana, 'impossible-travel-alert-locations-map', (o) => {
      o.attributes.layerListJSON = (o.attributes.layerListJSON as string).replace('second_location.location', 'second_location.locaton');
    });
    assert.match(fieldProblems(broken, TEMPLATES).join('\n'), /layerListJSON\[1\]\.sourceDescriptor\.geoField ".*second_location\.locaton": not mapped/);
  });

  it('a field of the other index (a CloudTrail-only field in the alerts search)', () => {
    const broken = mutate(objects, 'impossible-travel-alerts-search', (o) => {
      (o.attributes.columns as string[]).push('eventName');
    });
    assert.match(fieldProblems(broken, TEMPLATES).join('\n'), /columns\[11\] "eventName": not mapped .*alerts-template\.json/);
  });

  it('a field inside an object that is not indexed', () => {
    const broken = mutate(objects, 'impossible-travel-cloudtrail-journeys-search', (o) => {
      (o.attributes.columns as string[]).push('requestParameters.bucketName');
    });
    assert.match(fieldProblems(broken, TEMPLATES).join('\n'), /"requestParameters\.bucketName": inside requestParameters, an object with enabled:false/);
  });

  it('sorting on a text field, and a time field that is not a date', () => {
    const broken = mutate(objects, 'impossible-travel-alerts-search', (o) => {
      o.attributes.sort = [['message', 'desc']];
    });
    const alsoBroken = mutate(broken, 'impossible-travel-alerts-index-pattern', (o) => {
      o.attributes.timeFieldName = 'severity';
    });
    assert.deepEqual(fieldProblems(alsoBroken, TEMPLATES).sort(), [
      'index-pattern [impossible-travel-alerts-index-pattern]: timeFieldName "severity": mapped as keyword, but this use needs date',
      'search [impossible-travel-alerts-search]: sort[0] "message": mapped as text, but this use needs sortable',
    ]);
  });

  it('a misspelt field in a filter or a query', () => {
    const broken = mutate(objects, 'impossible-travel-cloudtrail-journeys-search', (o) => {
      const meta = o.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string };
      const source = JSON.parse(meta.searchSourceJSON);
      source.filter[0].exists.field = 'impossible_travel.alertid';
      source.query.query = 'userIdentity.acessKeyId:"AKIA1"';
      meta.searchSourceJSON = JSON.stringify(source);
    });
    const problems = fieldProblems(broken, TEMPLATES).join('\n');
    assert.match(problems, /filter\[0\]\.exists\.field "impossible_travel\.alertid": not mapped/);
    assert.match(problems, /searchSourceJSON\.query "userIdentity\.acessKeyId": not mapped/);
  });

  it('an index pattern whose title no template is installed for', () => {
    const broken = mutate(objects, 'impossible-travel-alerts-index-pattern', (o) => {
      o.attributes.title = 'impossible-travel-alert*';
    });
    assert.match(fieldProblems(broken, TEMPLATES).join('\n'), /index pattern "impossible-travel-alert\*" is not the index_patterns of any template/);
  });

  it('a reference to an object not in the file, of the wrong type, or unused; a panel without its reference', () => {
    const broken = mutate(objects, 'impossible-travel-dashboard', (o) => {
      o.references[0] = { ...o.references[0]!, id: 'impossible-travel-alerts-overtime' };
      o.references[1] = { ...o.references[1]!, type: 'search' };
      o.references.push({ name: 'panel_9', type: 'visualization', id: 'impossible-travel-top-access-keys' });
    });
    assert.deepEqual(referenceProblems(broken), [
      'dashboard [impossible-travel-dashboard]: reference panel_0 -> visualization [impossible-travel-alerts-overtime] is not in the file',
      'dashboard [impossible-travel-dashboard]: reference panel_1 -> search [impossible-travel-alert-locations-map] is not in the file (there is a visualization with that id)',
      'dashboard [impossible-travel-dashboard]: reference panel_9 is used by nothing',
    ]);
    const noRef = mutate(objects, 'impossible-travel-top-access-keys', (o) => {
      o.references.length = 0;
    });
    assert.deepEqual(referenceProblems(noRef), [
      'visualization [impossible-travel-top-access-keys]: searchSourceJSON.indexRefName is kibanaSavedObjectMeta.searchSourceJSON.index, which no reference has',
    ]);
  });

  it('overlapping dashboard panels', () => {
    const broken = mutate(objects, 'impossible-travel-dashboard', (o) => {
      const panels = JSON.parse(o.attributes.panelsJSON as string);
      panels[1].gridData.x = 10;
      o.attributes.panelsJSON = JSON.stringify(panels);
    });
    assert.deepEqual(dashboardProblems(broken), ['dashboard [impossible-travel-dashboard]: panel 1 overlaps panel 0']);
  });
});
