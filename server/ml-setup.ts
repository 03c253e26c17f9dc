import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Client } from './opensearch-client.js';
import { ConfigError } from './errors.js';
import { SetupError, openSearchReason, SETUP_DEFAULTS } from './setup.js';

/**
 * Makes OpenSearch call the service for documents indexed straight into it (docs/ingest-pipeline.md):
 * ML Commons cluster settings, a remote connector to `POST <service>/ml/enrich`, a model group, a
 * registered and deployed remote model, and the ingest pipeline `impossible-travel-enrich` (one
 * `ml_inference` processor). Optionally makes that pipeline the `index.default_pipeline` of the
 * CloudTrail index template and of the existing CloudTrail indices.
 *
 * Idempotent: every object is found by name first; a connector whose content changed (service URL,
 * API key) is updated in place (its model undeployed and deployed again), never duplicated.
 * Needs the opensearch-ml plugin (and opensearch-job-scheduler, which it depends on).
 */

export const ML_NAMES = {
  connector: 'impossible-travel-enrich',
  modelGroup: 'impossible-travel',
  model: 'impossible-travel-enrich',
  pipeline: 'impossible-travel-enrich',
} as const;

export interface MlSetupOptions {
  /** Base URL of the service as OpenSearch reaches it (SERVICE_URL_FOR_OPENSEARCH). */
  readonly serviceUrl: string;
  /** A key from API_KEYS when the service requires one; sent as `Authorization: Bearer <key>`. */
  readonly apiKey?: string | undefined;
  /** Set `index.default_pipeline` on the CloudTrail template and existing indices (ML_DEFAULT_PIPELINE). */
  readonly defaultPipeline?: boolean;
  readonly cloudtrailIndexPattern?: string;
  /** Name of the CloudTrail index template installed by setup (`<templatePrefix>-cloudtrail`). */
  readonly cloudtrailTemplate?: string;
  /** Names of the objects; default ML_NAMES (tests use their own). */
  readonly names?: Partial<Record<keyof typeof ML_NAMES, string>>;
  /**
   * true (default): a document whose enrichment fails (service down, timeout, error answer) is
   * indexed unenriched and counted in the processor's `failed` ingest stat. false: it is refused.
   */
  readonly ignoreFailure?: boolean;
  /** Seconds ML Commons waits for the service to answer one document. Default 10. */
  readonly readTimeoutSeconds?: number;
  /** Connections ML Commons opens to the service (per node). Default 64. */
  readonly maxConnections?: number;
  /**
   * The entry added to plugins.ml_commons.trusted_connector_endpoints_regex when none admits the
   * service's URL. Default `^<origin>/.*$`; tests, whose services listen on random ports, pass one for
   * any port of the host so that runs do not add one entry each.
   */
  readonly trustedEndpointRegex?: string;
  /** How long to wait for the model to be deployed. Default 60 s. */
  readonly deployTimeoutMs?: number;
}

type Action = 'created' | 'updated' | 'unchanged';

export interface MlSetupReport {
  readonly settings: Record<string, unknown>;
  readonly connector: { readonly id: string; readonly action: Action };
  readonly modelGroup: { readonly id: string; readonly action: Action };
  readonly model: { readonly id: string; readonly action: Action; readonly deployed: 'deployed' | 'already deployed' };
  readonly pipeline: { readonly name: string; readonly action: Action };
  readonly defaultPipeline?: { readonly template: string | undefined; readonly indices: readonly string[] };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

async function request<T = Record<string, unknown>>(
  client: Client,
  action: string,
  target: string,
  method: string,
  path: string,
  body?: unknown,
  querystring?: Record<string, unknown>,
): Promise<T> {
  try {
    const res = await client.transport.request({ method, path, body: body as Record<string, unknown>, querystring }, { headers: JSON_HEADERS });
    return res.body as T;
  } catch (err) {
    const r = openSearchReason(err);
    throw new SetupError(target, r.reason, r.answered, action);
  }
}

/** The first hit's id and source of an ML Commons `_search` by exact name; undefined when none (or no index yet). */
async function findByName(client: Client, kind: string, path: string, name: string): Promise<{ id: string; source: Record<string, unknown> } | undefined> {
  let body: { hits?: { hits?: { _id: string; _source: Record<string, unknown> }[] } };
  try {
    const res = await client.transport.request({
      method: 'POST',
      path,
      // name.keyword is not in every ML index mapping: match the phrase, then compare exactly here.
      body: { size: 100, query: { match_phrase: { name } } },
    });
    body = res.body as typeof body;
  } catch (err) {
    const r = openSearchReason(err);
    // The ML system indices are created on first use: no index yet is "not found".
    if (r.status === 404 || r.type === 'index_not_found_exception') return undefined;
    throw new SetupError(`${kind} [${name}]`, r.reason, r.answered, 'search for');
  }
  const hit = (body.hits?.hits ?? []).find((h) => h._source?.name === name && h._source?.chunk_number === undefined);
  return hit && { id: hit._id, source: hit._source };
}

function sha256(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Loopback, RFC 1918, link-local, unique-local: ML Commons refuses these unless private_ip_enabled. */
export function isPrivateHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) {
    const [a, b] = h.split('.').map(Number) as [number, number];
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || a === 0;
  }
  if (isIP(h) === 6) return h === '::1' || /^f[cd]/.test(h) || /^fe[89ab]/.test(h);
  // A name: ML Commons resolves it and checks the address; we cannot know it here. Say yes only
  // for names that are private by convention.
  return /\.(internal|local|lan|svc|cluster\.local)$/.test(h) || !h.includes('.');
}

/** The `_create` body of the connector (also sent on update). The hash of everything else is in its description. */
export function connectorBody(o: MlSetupOptions, name: string = ML_NAMES.connector): Record<string, unknown> {
  const url = new URL('/ml/enrich', o.serviceUrl.endsWith('/') ? o.serviceUrl : `${o.serviceUrl}/`).toString();
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.apiKey) headers.Authorization = 'Bearer ${credential.api_key}';
  const body: Record<string, unknown> = {
    name,
    version: '1',
    protocol: 'http',
    parameters: {},
    // ML Commons requires a credential on every http connector; unused without API_KEYS.
    credential: { api_key: o.apiKey ?? 'none' },
    client_config: {
      max_connection: o.maxConnections ?? 64,
      connection_timeout: 5,
      read_timeout: o.readTimeoutSeconds ?? 10,
      max_retry_times: 0,
    },
    actions: [
      {
        action_type: 'predict',
        method: 'POST',
        url,
        headers,
        // The processor's input_map {"record": "$"} makes `parameters.record` the whole document as JSON.
        request_body: '{"record": ${parameters.record}}',
      },
    ],
  };
  const hash = sha256(body);
  return { ...body, description: `impossible-travel: CloudTrail enrichment and impossible-travel detection by the service at ${o.serviceUrl} (content_sha256=${hash})` };
}

/** The ingest pipeline body for a deployed model. */
export function pipelineBody(modelId: string, o: Pick<MlSetupOptions, 'ignoreFailure'> = {}): Record<string, unknown> {
  return {
    description: 'impossible-travel: enrich CloudTrail records (GeoIP, impossible travel) through the service; alerts are written by the service',
    processors: [
      {
        ml_inference: {
          tag: 'impossible-travel-enrich',
          description: 'POST the document to the service /ml/enrich; copy its answer onto the document',
          model_id: modelId,
          function_name: 'remote',
          input_map: [{ record: '$' }],
          output_map: [
            {
              '@timestamp': '@timestamp',
              source: 'source',
              'userIdentity.session_name': 'userIdentity.session_name',
              impossible_travel: 'impossible_travel',
            },
          ],
          // The service always answers every mapped field (null when it has none): a missing one
          // means a wrong answer, which must fail rather than be written whole into the document.
          ignore_missing: false,
          ignore_failure: o.ignoreFailure ?? true,
        },
      },
    ],
  };
}

/** Persistent cluster settings ML Commons needs to call the service; the trusted endpoints are merged, not replaced. */
async function ensureSettings(client: Client, o: MlSetupOptions): Promise<Record<string, unknown>> {
  const target = 'cluster settings (plugins.ml_commons.*)';
  const current = await request<{ persistent?: Record<string, unknown>; transient?: Record<string, unknown>; defaults?: Record<string, unknown> }>(
    client, 'read', target, 'GET', '/_cluster/settings', undefined, { include_defaults: 'true', flat_settings: 'true' },
  );
  const effective = (key: string): unknown => current.transient?.[key] ?? current.persistent?.[key] ?? current.defaults?.[key];
  const settings: Record<string, unknown> = {};

  const origin = new URL(o.serviceUrl).origin;
  const ours = o.trustedEndpointRegex ?? `^${escapeRegex(origin)}/.*$`;
  const regexKey = 'plugins.ml_commons.trusted_connector_endpoints_regex';
  const existing = effective(regexKey);
  const list = Array.isArray(existing) ? (existing as string[]) : typeof existing === 'string' ? [existing] : [];
  // An entry that already admits the URL (e.g. ^http://127\.0\.0\.1:.*$) is enough: the list must not
  // grow by one entry per port on every run. (Java and JavaScript agree on these simple patterns.)
  const admits = (pattern: string): boolean => {
    try {
      return new RegExp(pattern).test(new URL('/ml/enrich', origin).toString());
    } catch {
      return false;
    }
  };
  if (!list.some(admits)) settings[regexKey] = [...list, ours];

  if (isPrivateHost(new URL(o.serviceUrl).hostname) && String(effective('plugins.ml_commons.connector.private_ip_enabled')) !== 'true') {
    settings['plugins.ml_commons.connector.private_ip_enabled'] = true;
  }

  // Without a node of the `ml` role, ML Commons must run on data nodes.
  const nodes = await request<{ nodes?: Record<string, { roles?: string[] }> }>(client, 'read', 'nodes', 'GET', '/_nodes', undefined, { filter_path: 'nodes.*.roles' });
  const hasMlNode = Object.values(nodes.nodes ?? {}).some((n) => n.roles?.includes('ml'));
  if (!hasMlNode && String(effective('plugins.ml_commons.only_run_on_ml_node')) !== 'false') {
    settings['plugins.ml_commons.only_run_on_ml_node'] = false;
  }
  if (Object.keys(settings).length > 0) {
    await request(client, 'update', target, 'PUT', '/_cluster/settings', { persistent: settings });
  }
  return settings;
}

async function undeployModelsOf(client: Client, connectorId: string): Promise<void> {
  let hits: { _id: string; _source: { model_state?: string } }[] = [];
  try {
    const res = await client.transport.request({
      method: 'POST',
      path: '/_plugins/_ml/models/_search',
      body: { size: 100, query: { term: { connector_id: connectorId } } },
    });
    hits = (res.body as { hits: { hits: typeof hits } }).hits.hits;
  } catch (err) {
    const r = openSearchReason(err);
    if (r.status !== 404) throw new SetupError(`models of connector [${connectorId}]`, r.reason, r.answered, 'search for');
  }
  for (const h of hits) {
    if (h._source.model_state === 'DEPLOYED' || h._source.model_state === 'PARTIALLY_DEPLOYED' || h._source.model_state === 'DEPLOYING') {
      await request(client, 'undeploy', `model [${h._id}]`, 'POST', `/_plugins/_ml/models/${encodeURIComponent(h._id)}/_undeploy`);
    }
  }
}

async function ensureConnector(client: Client, o: MlSetupOptions, name: string): Promise<{ id: string; action: Action }> {
  const body = connectorBody(o, name);
  const found = await findByName(client, 'ML connector', '/_plugins/_ml/connectors/_search', name);
  const target = `ML connector [${name}]`;
  if (!found) {
    const res = await request<{ connector_id: string }>(client, 'create', target, 'POST', '/_plugins/_ml/connectors/_create', body);
    return { id: res.connector_id, action: 'created' };
  }
  if (found.source.description === body.description) return { id: found.id, action: 'unchanged' };
  // ML Commons refuses to update a connector while a model using it is deployed.
  await undeployModelsOf(client, found.id);
  await request(client, 'update', target, 'PUT', `/_plugins/_ml/connectors/${encodeURIComponent(found.id)}`, body);
  return { id: found.id, action: 'updated' };
}

async function ensureModelGroup(client: Client, name: string): Promise<{ id: string; action: Action }> {
  const found = await findByName(client, 'ML model group', '/_plugins/_ml/model_groups/_search', name);
  if (found) return { id: found.id, action: 'unchanged' };
  const res = await request<{ model_group_id: string }>(client, 'create', `ML model group [${name}]`, 'POST', '/_plugins/_ml/model_groups/_register', {
    name,
    description: 'impossible-travel: the service as a remote model, for the ingest pipeline',
  });
  return { id: res.model_group_id, action: 'created' };
}

async function modelState(client: Client, id: string): Promise<string | undefined> {
  const res = await request<{ model_state?: string }>(client, 'read', `ML model [${id}]`, 'GET', `/_plugins/_ml/models/${encodeURIComponent(id)}`);
  return res.model_state;
}

async function ensureModel(
  client: Client,
  name: string,
  groupId: string,
  connectorId: string,
  deployTimeoutMs: number,
): Promise<MlSetupReport['model']> {
  const target = `ML model [${name}]`;
  const found = await findByName(client, 'ML model', '/_plugins/_ml/models/_search', name);
  let id: string;
  let action: Action = 'unchanged';
  if (found && found.source.connector_id === connectorId) {
    id = found.id;
  } else {
    if (found) {
      // Same name, other connector (the connector was deleted by hand and recreated): replace the model.
      if (found.source.model_state === 'DEPLOYED') await request(client, 'undeploy', target, 'POST', `/_plugins/_ml/models/${encodeURIComponent(found.id)}/_undeploy`);
      await request(client, 'delete', target, 'DELETE', `/_plugins/_ml/models/${encodeURIComponent(found.id)}`);
    }
    const res = await request<{ model_id: string }>(client, 'register', target, 'POST', '/_plugins/_ml/models/_register', {
      name,
      function_name: 'remote',
      model_group_id: groupId,
      connector_id: connectorId,
      description: 'impossible-travel: the service as a remote model (POST /ml/enrich)',
    });
    id = res.model_id;
    action = found ? 'updated' : 'created';
  }
  if ((await modelState(client, id)) === 'DEPLOYED') return { id, action, deployed: 'already deployed' };
  await request(client, 'deploy', `ML model [${name}] (${id})`, 'POST', `/_plugins/_ml/models/${encodeURIComponent(id)}/_deploy`);
  const deadline = Date.now() + deployTimeoutMs;
  let state: string | undefined;
  while ((state = await modelState(client, id)) !== 'DEPLOYED') {
    if (state === 'DEPLOY_FAILED' || Date.now() > deadline) {
      throw new SetupError(`ML model [${name}] (${id})`, `model_state is ${state ?? 'unknown'} (see the node's log)`, true, 'deploy');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { id, action, deployed: 'deployed' };
}

async function ensurePipeline(client: Client, name: string, body: Record<string, unknown>): Promise<Action> {
  const target = `ingest pipeline [${name}]`;
  let existing: Record<string, unknown> | undefined;
  try {
    const res = await client.transport.request({ method: 'GET', path: `/_ingest/pipeline/${encodeURIComponent(name)}` });
    existing = (res.body as Record<string, Record<string, unknown>>)[name];
  } catch (err) {
    const r = openSearchReason(err);
    if (r.status !== 404) throw new SetupError(target, r.reason, r.answered, 'read');
  }
  if (existing && sha256(existing) === sha256(body)) return 'unchanged';
  await request(client, 'install', target, 'PUT', `/_ingest/pipeline/${encodeURIComponent(name)}`, body);
  return existing ? 'updated' : 'created';
}

/** Adds `index.default_pipeline` to the CloudTrail template (keeping its _meta, so setup still sees it current) and existing indices. */
async function ensureDefaultPipeline(
  client: Client,
  pipeline: string,
  pattern: string,
  templateName: string,
): Promise<NonNullable<MlSetupReport['defaultPipeline']>> {
  const tTarget = `index template [${templateName}]`;
  let template: string | undefined;
  try {
    const res = await client.transport.request({ method: 'GET', path: `/_index_template/${encodeURIComponent(templateName)}` });
    const found = (res.body as { index_templates?: { name: string; index_template: Record<string, unknown> }[] }).index_templates?.find((t) => t.name === templateName);
    if (found) {
      const body = found.index_template as { template?: { settings?: Record<string, unknown> } };
      const settings = body.template?.settings ?? {};
      const index = (settings.index ?? {}) as Record<string, unknown>;
      if (index.default_pipeline !== pipeline && settings['index.default_pipeline'] !== pipeline) {
        const { ['index.default_pipeline']: _flat, ...rest } = settings;
        const updated = { ...body, template: { ...body.template, settings: { ...rest, index: { ...index, default_pipeline: pipeline } } } };
        await request(client, 'update', tTarget, 'PUT', `/_index_template/${encodeURIComponent(templateName)}`, updated);
      }
      template = templateName;
    }
  } catch (err) {
    if (err instanceof SetupError) throw err;
    const r = openSearchReason(err);
    if (r.status !== 404) throw new SetupError(tTarget, r.reason, r.answered, 'read');
  }
  const existing = await request<{ index: string }[]>(client, 'list', `indices [${pattern}]`, 'GET', `/_cat/indices/${pattern}`, undefined, {
    format: 'json',
    h: 'index',
    expand_wildcards: 'open',
  });
  const indices = existing.map((i) => i.index).filter((i) => !i.startsWith('.'));
  if (indices.length > 0) {
    await request(client, 'update', `indices [${pattern}]`, 'PUT', `/${pattern}/_settings`, { index: { default_pipeline: pipeline } }, {
      allow_no_indices: 'true',
      expand_wildcards: 'open',
    });
  }
  return { template, indices };
}

/** Does the cluster run ML Commons? (`_cat/plugins` lists `opensearch-ml` on every node that does.) */
export async function hasMlPlugin(client: Client): Promise<boolean> {
  const res = await client.transport.request({ method: 'GET', path: '/_cat/plugins', querystring: { format: 'json', h: 'component' } });
  return (res.body as { component: string }[]).some((p) => p.component === 'opensearch-ml');
}

export async function mlSetup(client: Client, o: MlSetupOptions): Promise<MlSetupReport> {
  let url: URL;
  try {
    url = new URL(o.serviceUrl);
  } catch {
    throw new ConfigError('SERVICE_URL_FOR_OPENSEARCH', `"${o.serviceUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('SERVICE_URL_FOR_OPENSEARCH', 'must be http or https');
  if (!(await hasMlPlugin(client).catch(() => false))) {
    throw new SetupError(
      'ML Commons',
      'the cluster has no opensearch-ml plugin (GET _cat/plugins); install opensearch-job-scheduler and opensearch-ml ' +
        '(scripts/opensearch.sh: OPENSEARCH_PLUGINS="org.opensearch.plugin:opensearch-job-scheduler org.opensearch.plugin:opensearch-ml-plugin")',
      true,
      'use',
    );
  }
  const names = { ...ML_NAMES, ...o.names };
  const settings = await ensureSettings(client, o);
  const connector = await ensureConnector(client, o, names.connector);
  const modelGroup = await ensureModelGroup(client, names.modelGroup);
  const model = await ensureModel(client, names.model, modelGroup.id, connector.id, o.deployTimeoutMs ?? 60_000);
  const pipeline = { name: names.pipeline, action: await ensurePipeline(client, names.pipeline, pipelineBody(model.id, o)) };
  const report: MlSetupReport = { settings, connector, modelGroup, model, pipeline };
  if (!o.defaultPipeline) return report;
  const defaultPipeline = await ensureDefaultPipeline(
    client,
    names.pipeline,
    o.cloudtrailIndexPattern ?? SETUP_DEFAULTS.cloudtrailIndexPattern,
    o.cloudtrailTemplate ?? `${SETUP_DEFAULTS.templatePrefix}-cloudtrail`,
  );
  return { ...report, defaultPipeline };
}
