import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot, type OpenSearchConfig } from './config.js';
import { ConfigError, ServiceError } from './errors.js';
import type { Client } from './opensearch-client.js';

/**
 * Installs what the service needs in OpenSearch before it writes: three composable index
 * templates (enriched CloudTrail, alerts, durable state) from `mappings/*-template.json`, then the
 * alerts and state indices. Safe to run on every start: a template whose content is already
 * installed is left alone, an existing index is kept and only gains the template's new mappings.
 * Every failure names the template or index and carries OpenSearch's own reason.
 */

/** The templates, in the order they are installed (the broadest pattern first). */
export const TEMPLATES = ['cloudtrail', 'alerts', 'state'] as const;
export type TemplateKind = (typeof TEMPLATES)[number];

/** The body of `PUT _index_template/<name>`, as the files hold it. */
export interface IndexTemplate {
  index_patterns: string[];
  priority: number;
  version?: number;
  _meta: Record<string, unknown>;
  template: {
    settings: Record<string, unknown>;
    mappings: Record<string, unknown>;
  };
}

export interface SetupOptions {
  /** Indices the enriched CloudTrail records go to. Default `cloudtrail-*`. */
  readonly cloudtrailIndexPattern?: string;
  /** Default `impossible-travel-alerts`; its template matches `<alertsIndex>*` (rolled-over indices too). */
  readonly alertsIndex?: string;
  /** Default `impossible-travel-state`; its template matches this exact name only. */
  readonly stateIndex?: string;
  /**
   * `index.number_of_replicas` for indices the templates create. Unset leaves the cluster default
   * (1), which keeps a single-node cluster yellow: pass 0 there.
   */
  readonly replicas?: number;
  /** Templates are named `<prefix>-cloudtrail`, `<prefix>-alerts`, `<prefix>-state`. Default `impossible-travel`. */
  readonly templatePrefix?: string;
  /**
   * Priority of the CloudTrail template; alerts get +10 and state +20, so when a pattern chosen
   * for CloudTrail also matches a service index, the service's own template wins. Change it when
   * another template with the same priority overlaps (OpenSearch rejects equal priorities).
   * Default 200.
   */
  readonly priority?: number;
}

export type ResolvedSetupOptions = Required<Omit<SetupOptions, 'replicas'>> & { readonly replicas: number | undefined };

export const SETUP_DEFAULTS = {
  cloudtrailIndexPattern: 'cloudtrail-*',
  alertsIndex: 'impossible-travel-alerts',
  stateIndex: 'impossible-travel-state',
  templatePrefix: 'impossible-travel',
  priority: 200,
} as const;

const PRIORITY_OFFSET: Record<TemplateKind, number> = { cloudtrail: 0, alerts: 10, state: 20 };

export interface RenderedTemplate {
  readonly kind: TemplateKind;
  readonly name: string;
  readonly body: IndexTemplate;
}

export interface SetupReport {
  readonly templates: { readonly name: string; readonly indexPatterns: readonly string[]; readonly action: 'created' | 'updated' | 'unchanged' }[];
  /** An existing index is kept; the template's mappings are added to it (new fields only). */
  readonly indices: { readonly name: string; readonly template: string; readonly action: 'created' | 'exists' }[];
}

/** OpenSearch refused, or could not be reached, while setting up; names the template or index. */
export class SetupError extends ServiceError {
  constructor(
    /** e.g. `index template [impossible-travel-alerts]`, `index [impossible-travel-state]`. */
    readonly target: string,
    /** OpenSearch's own words (`<status> <type>: <reason>`), or the transport error. */
    readonly reason: string,
    answered: boolean,
    action: string,
  ) {
    super(answered ? 'upstream_rejected' : 'upstream_unavailable', `setup: cannot ${action} ${target}: ${reason}`, answered ? 502 : 503);
    this.name = 'SetupError';
  }
}

export function templatePath(kind: TemplateKind, root: string = packageRoot()): string {
  return join(root, 'mappings', `${kind}-template.json`);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads and checks one template file; the files live at the package root, beside dist/. */
export function loadTemplate(kind: TemplateKind, root: string = packageRoot()): IndexTemplate {
  if (!(TEMPLATES as readonly string[]).includes(kind)) {
    throw new ConfigError('template', `unknown template "${String(kind)}" (known: ${TEMPLATES.join(', ')})`);
  }
  const path = templatePath(kind, root);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(path, `cannot load the ${kind} index template: ${(err as Error).message}`);
  }
  const bad = (what: string): ConfigError => new ConfigError(path, `the ${kind} index template ${what}`);
  if (!isObject(parsed)) throw bad('is not a JSON object');
  const patterns = parsed.index_patterns;
  if (!Array.isArray(patterns) || patterns.length === 0 || !patterns.every((p) => typeof p === 'string')) {
    throw bad('needs index_patterns, a non-empty list of strings');
  }
  if (typeof parsed.priority !== 'number') throw bad('needs a numeric priority');
  if (!isObject(parsed._meta)) throw bad('needs a _meta object');
  const template = parsed.template;
  if (!isObject(template) || !isObject(template.mappings) || !isObject(template.mappings.properties)) {
    throw bad('needs template.mappings.properties');
  }
  if (template.settings !== undefined && !isObject(template.settings)) throw bad('has template.settings that is not an object');
  if ('composed_of' in parsed) throw bad('must be self-contained (no composed_of)');
  return {
    ...(parsed as unknown as IndexTemplate),
    template: { settings: (template.settings as Record<string, unknown> | undefined) ?? {}, mappings: template.mappings },
  };
}

const INDEX_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const INDEX_PATTERN = /^[a-z0-9*][a-z0-9._*-]*$/;
const KNOWN_OPTIONS = ['cloudtrailIndexPattern', 'alertsIndex', 'stateIndex', 'replicas', 'templatePrefix', 'priority'];

/** Applies the defaults and checks every option; a ConfigError names the option. */
export function resolveSetupOptions(options: SetupOptions = {}): ResolvedSetupOptions {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) throw new ConfigError(`setup.${key}`, `unknown option (known: ${KNOWN_OPTIONS.join(', ')})`);
  }
  // Options may come from untyped configuration: every value is checked, not trusted.
  const pick = (key: keyof typeof SETUP_DEFAULTS): unknown => options[key] ?? SETUP_DEFAULTS[key];
  const name = (key: 'alertsIndex' | 'stateIndex' | 'templatePrefix'): string => {
    const value = pick(key);
    if (typeof value !== 'string' || !INDEX_NAME.test(value) || value.length > 200) {
      throw new ConfigError(`setup.${key}`, `"${String(value)}" is not a lowercase index name (a-z, 0-9, ".", "_", "-"; not starting with one of ".", "_", "-")`);
    }
    return value;
  };
  const pattern = pick('cloudtrailIndexPattern');
  if (typeof pattern !== 'string' || !INDEX_PATTERN.test(pattern)) {
    throw new ConfigError('setup.cloudtrailIndexPattern', `"${String(pattern)}" is not a lowercase index pattern (e.g. cloudtrail-*)`);
  }
  const priority = pick('priority');
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 1_000_000) {
    throw new ConfigError('setup.priority', 'must be a whole number from 0 to 1000000');
  }
  const replicas: unknown = options.replicas;
  if (replicas !== undefined && (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0 || replicas > 10)) {
    throw new ConfigError('setup.replicas', 'must be a whole number from 0 to 10');
  }
  const resolved = {
    cloudtrailIndexPattern: pattern,
    alertsIndex: name('alertsIndex'),
    stateIndex: name('stateIndex'),
    templatePrefix: name('templatePrefix'),
    priority,
    replicas,
  };
  if (resolved.alertsIndex === resolved.stateIndex) {
    throw new ConfigError('setup.stateIndex', `must differ from alertsIndex ("${resolved.alertsIndex}")`);
  }
  return resolved;
}

/** What the file is about, independent of key order: the installed copy is compared by this hash. */
function contentHash(body: IndexTemplate): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : isObject(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]))
        : v;
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest('hex');
}

/** The three template bodies with the options applied: names, patterns, priorities, replicas. */
export function renderTemplates(options: SetupOptions = {}, root: string = packageRoot()): RenderedTemplate[] {
  const o = resolveSetupOptions(options);
  const patterns: Record<TemplateKind, string[]> = {
    cloudtrail: [o.cloudtrailIndexPattern],
    alerts: [`${o.alertsIndex}*`],
    state: [o.stateIndex],
  };
  return TEMPLATES.map((kind) => {
    const file = loadTemplate(kind, root);
    const settings = { ...file.template.settings };
    if (o.replicas !== undefined) settings['index.number_of_replicas'] = o.replicas;
    const body: IndexTemplate = {
      ...file,
      index_patterns: patterns[kind],
      priority: o.priority + PRIORITY_OFFSET[kind],
      template: { ...file.template, settings },
    };
    body._meta = { ...file._meta, content_sha256: contentHash(body) };
    return { kind, name: `${o.templatePrefix}-${kind}`, body };
  });
}

interface OpenSearchErrorShape {
  meta?: { statusCode?: number; body?: unknown };
  message?: string;
}

/** `<status> <type>: <reason> (caused by <type>: <reason>)` from a client error, or its message. */
export function openSearchReason(err: unknown): { answered: boolean; status: number | undefined; type: string | undefined; reason: string } {
  const e = (err ?? {}) as OpenSearchErrorShape;
  const status = e.meta?.statusCode;
  const body = e.meta?.body;
  const error = isObject(body) ? body.error : undefined;
  if (isObject(error)) {
    const type = typeof error.type === 'string' ? error.type : undefined;
    let reason = `${status ?? '?'} ${type ?? 'error'}: ${String(error.reason ?? '')}`;
    const cause = error.caused_by;
    if (isObject(cause) && cause.reason !== error.reason) reason += ` (caused by ${String(cause.type)}: ${String(cause.reason)})`;
    return { answered: true, status, type, reason };
  }
  if (typeof status === 'number') {
    return { answered: true, status, type: undefined, reason: `${status} ${typeof body === 'string' && body ? body.slice(0, 500) : (e.message ?? '')}` };
  }
  return { answered: false, status: undefined, type: undefined, reason: e.message ?? String(err) };
}

async function call<T>(action: string, target: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const r = openSearchReason(err);
    throw new SetupError(target, r.reason, r.answered, action);
  }
}

async function installedHash(client: Client, name: string): Promise<string | null | undefined> {
  try {
    const res = await client.indices.getIndexTemplate({ name });
    const found = res.body.index_templates?.find((t) => t.name === name);
    if (!found) return undefined;
    const meta = (found.index_template as { _meta?: Record<string, unknown> })._meta;
    return typeof meta?.content_sha256 === 'string' ? meta.content_sha256 : null;
  } catch (err) {
    const r = openSearchReason(err);
    if (r.status === 404) return undefined;
    throw new SetupError(`index template [${name}]`, r.reason, r.answered, 'read');
  }
}

async function installTemplate(client: Client, t: RenderedTemplate): Promise<SetupReport['templates'][number]> {
  const target = `index template [${t.name}] (patterns ${t.body.index_patterns.join(', ')})`;
  const current = await installedHash(client, t.name);
  const report = { name: t.name, indexPatterns: t.body.index_patterns };
  if (current === t.body._meta.content_sha256) return { ...report, action: 'unchanged' };
  await call('install', target, () => client.indices.putIndexTemplate({ name: t.name, body: t.body }));
  return { ...report, action: current === undefined ? 'created' : 'updated' };
}

/**
 * A template of higher priority matching the index would silently replace ours (no geo_point,
 * no ip): refuse to create the index then, rather than find out from a broken map.
 */
async function checkTemplateApplies(client: Client, index: string, t: RenderedTemplate): Promise<void> {
  const res = await call('simulate the template of', `index [${index}]`, () => client.indices.simulateIndexTemplate({ name: index }));
  const overlapping = res.body.overlapping ?? [];
  if (overlapping.some((o) => o.name === t.name)) {
    throw new SetupError(
      `index [${index}]`,
      `index template [${t.name}] (priority ${t.body.priority}) would not apply: a template with a higher priority matches the index too ` +
        '(GET _index_template lists them; raise the priority option or change that template)',
      true,
      'create',
    );
  }
}

async function ensureIndex(client: Client, index: string, t: RenderedTemplate): Promise<SetupReport['indices'][number]> {
  const target = `index [${index}]`;
  const exists = await call('check', target, () => client.indices.exists({ index }));
  if (!exists.body) {
    await checkTemplateApplies(client, index, t);
    try {
      await client.indices.create({ index });
      return { name: index, template: t.name, action: 'created' };
    } catch (err) {
      const r = openSearchReason(err);
      // Another instance created it between our check and our create: the same end state.
      if (r.type !== 'resource_already_exists_exception') throw new SetupError(target, r.reason, r.answered, 'create');
    }
  }
  // Templates apply at creation only: an index made by an older version gains the new fields here.
  // A changed type cannot be applied and fails loudly, naming the field.
  await call(`add the mappings of index template [${t.name}] to`, target, () =>
    client.indices.putMapping({ index, body: t.body.template.mappings }),
  );
  return { name: index, template: t.name, action: 'exists' };
}

/** Setup options from the service's configuration. */
export function setupOptions(os: OpenSearchConfig): SetupOptions {
  return {
    cloudtrailIndexPattern: os.cloudtrailIndexPattern,
    alertsIndex: os.alertsIndex,
    stateIndex: os.stateIndex,
    ...(os.replicas !== undefined ? { replicas: os.replicas } : {}),
  };
}

/**
 * Installs the three templates and creates the alerts and state indices if missing. Idempotent.
 * CloudTrail indices are not created here: the template applies when the writer creates them.
 */
export async function setup(client: Client, options: SetupOptions = {}): Promise<SetupReport> {
  const o = resolveSetupOptions(options);
  const rendered = renderTemplates(options);
  const byKind = (kind: TemplateKind): RenderedTemplate => rendered.find((t) => t.kind === kind)!;
  const templates: SetupReport['templates'] = [];
  for (const t of rendered) templates.push(await installTemplate(client, t));
  const indices: SetupReport['indices'] = [];
  indices.push(await ensureIndex(client, o.alertsIndex, byKind('alerts')));
  indices.push(await ensureIndex(client, o.stateIndex, byKind('state')));
  return { templates, indices };
}
