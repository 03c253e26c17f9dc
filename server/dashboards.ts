import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { packageRoot } from './config.js';
import { ConfigError, ServiceError, errorMessage } from './errors.js';

/**
 * Imports the saved objects of mappings/dashboards/ (index patterns, saved searches,
 * visualizations, the dashboard) through the saved objects API of OpenSearch Dashboards or Kibana:
 * `POST <url>/api/saved_objects/_import?overwrite=true`, the NDJSON file as multipart/form-data.
 * The objects have fixed ids, so importing again replaces them instead of adding copies.
 * A refusal names the URL and carries the server's own reason, per object where it gives one.
 */

export const DASHBOARDS_FLAVORS = ['opensearch-dashboards', 'kibana'] as const;
export type DashboardsFlavor = (typeof DASHBOARDS_FLAVORS)[number];

/** Ids of the index-pattern objects whose titles `indexPatternTitles` can replace. */
export const INDEX_PATTERN_IDS = {
  alerts: 'impossible-travel-alerts-index-pattern',
  cloudtrail: 'impossible-travel-cloudtrail-index-pattern',
} as const;

/** Both servers refuse a state-changing request without their own anti-CSRF header. */
const XSRF_HEADER: Record<DashboardsFlavor, string> = {
  'opensearch-dashboards': 'osd-xsrf',
  kibana: 'kbn-xsrf',
};

const DEFAULT_TIMEOUT_MS = 30_000;

export interface ImportOptions {
  /** Base URL of OpenSearch Dashboards or Kibana, with its base path if any (`https://host:5601/dashboards`). */
  readonly url: string;
  /** The NDJSON file; its name must end in `.ndjson` (both servers refuse another extension). */
  readonly file: string;
  readonly flavor: DashboardsFlavor;
  readonly username?: string;
  readonly password?: string;
  /**
   * Titles for the index patterns when the indices are not the default ones (ALERTS_INDEX,
   * CLOUDTRAIL_INDEX_PATTERN): e.g. `{ alerts: 'my-alerts*' }`. The ids stay, so references hold.
   */
  readonly indexPatternTitles?: { readonly alerts?: string; readonly cloudtrail?: string };
  readonly timeoutMs?: number;
  readonly fetchImpl?: typeof fetch;
}

export interface ImportResult {
  readonly successCount: number;
  /** Always empty when the import succeeded; kept so callers can log what a server adds there. */
  readonly errors: unknown[];
}

/** The server refused the import, or could not be reached; names the URL and the reason. */
export class DashboardsImportError extends ServiceError {
  constructor(
    /** The import endpoint, without credentials. */
    readonly url: string,
    /** The server's own words, or the transport error. */
    readonly reason: string,
    /** HTTP status of the answer; undefined when there was none. */
    readonly httpStatus: number | undefined,
    /** The per-object errors of a `success: false` answer. */
    readonly errors: unknown[] = [],
  ) {
    super(
      httpStatus === undefined ? 'upstream_unavailable' : 'upstream_rejected',
      `cannot import saved objects into ${url}: ${reason}`,
      httpStatus === undefined ? 503 : 502,
    );
    this.name = 'DashboardsImportError';
  }
}

/** The saved objects file shipped for a flavor, at the package root beside dist/. */
export function dashboardsFile(flavor: DashboardsFlavor, root: string = packageRoot()): string {
  checkFlavor(flavor);
  return join(root, 'mappings', 'dashboards', `${flavor}.ndjson`);
}

function checkFlavor(flavor: unknown): asserts flavor is DashboardsFlavor {
  if (!(DASHBOARDS_FLAVORS as readonly unknown[]).includes(flavor)) {
    throw new ConfigError('dashboards.flavor', `unknown flavor "${String(flavor)}" (known: ${DASHBOARDS_FLAVORS.join(', ')})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The import endpoint under the base URL (its base path kept), and credentials found in it. */
function endpointOf(url: string): { endpoint: URL; username?: string; password?: string } {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new ConfigError('dashboards.url', `"${url.replace(/\/\/[^/@]*@/, '//***@')}" is not a URL`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new ConfigError('dashboards.url', `${base.protocol} is not http: or https:`);
  }
  // fetch refuses URLs with credentials: they move to the Authorization header.
  const username = base.username ? decodeURIComponent(base.username) : undefined;
  const password = base.password ? decodeURIComponent(base.password) : undefined;
  base.username = '';
  base.password = '';
  base.search = '';
  base.hash = '';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const endpoint = new URL('api/saved_objects/_import', base);
  endpoint.searchParams.set('overwrite', 'true');
  return { endpoint, username, password };
}

/** Replaces the titles of the known index-pattern objects; every other line is sent as read. */
function withTitles(ndjson: string, file: string, titles: ImportOptions['indexPatternTitles']): string {
  const wanted = new Map<string, string>();
  for (const [key, title] of Object.entries(titles ?? {})) {
    if (title === undefined) continue;
    const id = INDEX_PATTERN_IDS[key as keyof typeof INDEX_PATTERN_IDS];
    if (!id) throw new ConfigError(`dashboards.indexPatternTitles.${key}`, `unknown index pattern (known: ${Object.keys(INDEX_PATTERN_IDS).join(', ')})`);
    if (typeof title !== 'string' || title.trim() === '') throw new ConfigError(`dashboards.indexPatternTitles.${key}`, 'must be a non-empty index pattern');
    wanted.set(id, title);
  }
  if (wanted.size === 0) return ndjson;
  const lines = ndjson.split('\n').map((line, i) => {
    if (line.trim() === '') return line;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new ConfigError(file, `line ${i + 1} is not JSON: ${errorMessage(err)}`);
    }
    if (!isObject(obj) || obj.type !== 'index-pattern' || typeof obj.id !== 'string' || !wanted.has(obj.id) || !isObject(obj.attributes)) return line;
    const title = wanted.get(obj.id)!;
    wanted.delete(obj.id);
    return JSON.stringify({ ...obj, attributes: { ...obj.attributes, title } });
  });
  if (wanted.size > 0) throw new ConfigError(file, `has no index-pattern object with id ${[...wanted.keys()].join(', ')}`);
  return lines.join('\n');
}

function objectCount(ndjson: string): number {
  return ndjson.split('\n').filter((l) => l.trim() !== '').length;
}

/** `<status> <error>: <message>` from the servers' error body (`{statusCode, error, message}`), or the text. */
function httpReason(status: number, statusText: string, body: unknown, text: string): string {
  if (isObject(body) && (typeof body.message === 'string' || typeof body.error === 'string')) {
    const error = typeof body.error === 'string' ? body.error : statusText;
    return typeof body.message === 'string' && body.message !== error ? `${status} ${error}: ${body.message}` : `${status} ${error}`;
  }
  const snippet = text.trim().replace(/\s+/g, ' ').slice(0, 500);
  return snippet ? `${status} ${statusText}: ${snippet}` : `${status} ${statusText}`;
}

/** One failed object: `visualization [id] "title": missing_references (index-pattern [x])`. */
function describeObjectError(e: unknown): string {
  if (!isObject(e)) return JSON.stringify(e);
  const title = typeof e.title === 'string' ? e.title : isObject(e.meta) && typeof e.meta.title === 'string' ? e.meta.title : undefined;
  const head = `${String(e.type ?? '?')} [${String(e.id ?? '?')}]${title ? ` "${title}"` : ''}`;
  const error = isObject(e.error) ? e.error : {};
  let what = typeof error.type === 'string' ? error.type : 'error';
  if (Array.isArray(error.references) && error.references.length > 0) {
    what += ` (${error.references.map((r) => (isObject(r) ? `${String(r.type)} [${String(r.id)}]` : String(r))).join(', ')})`;
  }
  if (typeof error.message === 'string') what += `: ${error.message}`;
  return `${head}: ${what}`;
}

function transportReason(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return errorMessage(err);
}

/**
 * POSTs the NDJSON file to the saved objects import API and returns how many objects it took.
 * Throws DashboardsImportError on a non-2xx answer, on `success: false` (naming each failed
 * object), on an answer that is not an import result, or when the server cannot be reached;
 * ConfigError when the options themselves are wrong.
 */
export async function importSavedObjects(options: ImportOptions): Promise<ImportResult> {
  const { flavor, file } = options;
  checkFlavor(flavor);
  if (!file.toLowerCase().endsWith('.ndjson')) {
    throw new ConfigError('dashboards.file', `${file}: the saved objects API only takes a file named *.ndjson`);
  }
  const { endpoint, ...fromUrl } = endpointOf(options.url);
  const username = options.username ?? fromUrl.username;
  const password = options.password ?? fromUrl.password;
  if (password !== undefined && username === undefined) {
    throw new ConfigError('dashboards.username', 'a password is set but no user name');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  let ndjson: string;
  try {
    ndjson = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('dashboards.file', `cannot read ${file}: ${errorMessage(err)}`);
  }
  ndjson = withTitles(ndjson, file, options.indexPatternTitles);

  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), basename(file));
  const headers: Record<string, string> = { [XSRF_HEADER[flavor]]: 'true', accept: 'application/json' };
  if (username !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  }

  const url = endpoint.toString();
  const doFetch = options.fetchImpl ?? fetch;
  let res: Response;
  let text: string;
  try {
    // A redirect is not followed: with the security plugin it leads to a login page that
    // answers 200 with HTML, which would hide the missing credentials.
    res = await doFetch(url, { method: 'POST', headers, body: form, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (err) {
    throw new DashboardsImportError(url, transportReason(err, timeoutMs), undefined);
  }

  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.status < 200 || res.status > 299) {
    const location = res.headers.get('location');
    const reason = httpReason(res.status, res.statusText, body, text) + (location ? ` (redirected to ${location}; are the credentials missing?)` : '');
    throw new DashboardsImportError(url, reason, res.status);
  }
  if (!isObject(body) || typeof body.success !== 'boolean') {
    throw new DashboardsImportError(url, `${res.status} but not a saved objects import result: ${text.trim().slice(0, 500) || '(empty body)'}`, res.status);
  }
  const errors = Array.isArray(body.errors) ? body.errors : [];
  const successCount = typeof body.successCount === 'number' ? body.successCount : 0;
  if (!body.success) {
    const failed = errors.length > 0 ? errors.map(describeObjectError).join('; ') : 'no reason given';
    throw new DashboardsImportError(
      url,
      `${successCount} of ${objectCount(ndjson)} objects imported from ${basename(file)}; ${errors.length} failed: ${failed}`,
      res.status,
      errors,
    );
  }
  return { successCount, errors };
}
