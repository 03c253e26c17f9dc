import type { Logger } from 'pino';
import express from 'express';
import { createApp, type AlertSink } from './app.js';
import type { Config } from './config.js';
import { ServiceError } from './errors.js';
import { GeoIpDatabase } from '../processors/geoip-database.js';
import { createPipeline, type Pipeline } from '../processors/pipeline.js';
import { MemoryStateStore, type StateStore } from '../processors/state.js';
import { Metrics } from './metrics.js';
import { OpenSearchAlertSink } from './opensearch-alerts.js';
import { createOpenSearchClient } from './opensearch-client.js';
import { OpenSearchStateStore } from './opensearch-state.js';
import { bulkRoute } from './routes/bulk.js';
import { mlEnrichRoute } from './routes/ml.js';
import { proxyRoute } from './routes/proxy.js';

/** Everything the service is made of, wired from configuration; main.ts only adds listening. */
export interface Service {
  readonly app: express.Express;
  readonly pipeline: Pipeline;
  readonly geoip: GeoIpDatabase;
  readonly store: StateStore;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

export const GEOIP_HELP =
  'Run `make geoip` to install the DB-IP Lite City database (CC BY 4.0, https://db-ip.com), ' +
  'or set GEOIP_CITY_DB to a MaxMind GeoLite2-City or GeoIP2-City .mmdb file.';

export function openGeoIp(config: Config, log: Logger): GeoIpDatabase {
  let geoip: GeoIpDatabase;
  try {
    geoip = new GeoIpDatabase({
      paths: config.geoip.cityDbPaths,
      reloadIntervalMs: config.geoip.reloadIntervalMs,
      cacheSize: config.geoip.cacheSize,
    });
  } catch (err) {
    if (err instanceof ServiceError) throw new ServiceError(err.code, `GEOIP_CITY_DB: ${err.message}. ${GEOIP_HELP}`);
    throw err;
  }
  geoip.on('reload', (files) => log.info({ files }, 'GeoIP database reloaded'));
  geoip.on('reloadError', (err) => log.error({ err }, 'GeoIP database changed on disk but cannot be read; keeping the previous one'));
  return geoip;
}

export interface ServiceParts {
  readonly store?: StateStore;
  readonly alertSink?: AlertSink;
  readonly extraRoutes?: (app: express.Express, pipeline: Pipeline, metrics: Metrics) => void;
  readonly onClose?: () => Promise<void>;
}

/** With OPENSEARCH_URL: durable shared state, alerts in their index, `_bulk`, and the proxy for the rest. */
export function openSearchParts(config: Config, log: Logger): ServiceParts {
  const os = config.opensearch;
  if (!os) return {};
  const client = createOpenSearchClient(os);
  const store = new OpenSearchStateStore({
    ...config.state,
    client,
    index: os.stateIndex,
    limits: { maxLocations: config.detection.historyMaxLocations, maxAgeMs: config.detection.historyMaxAgeMs },
    writeGranularityMs: os.stateWriteGranularityMs,
    readMode: os.stateRead,
    syncIntervalMs: os.stateSyncIntervalMs,
    samePlaceSyncIntervalMs: os.stateSamePlaceSyncIntervalMs,
    retentionMs: os.stateRetentionMs,
    log,
  });
  const alertSink = new OpenSearchAlertSink(client, os.alertsIndex, log);
  const rawBody = express.raw({ type: () => true, limit: config.maxBodyBytes });
  return {
    store,
    alertSink,
    extraRoutes(app, pipeline, metrics) {
      const bulk = bulkRoute({
        client,
        pipeline,
        alertSink,
        maxBodyBytes: config.maxBodyBytes,
        maxRecords: config.maxRecordsPerRequest,
        log,
        metrics,
        idFromEventId: os.bulkIdFromEventId,
      });
      app.post(['/_bulk', '/:index/_bulk'], rawBody, bulk);
      app.put(['/_bulk', '/:index/_bulk'], rawBody, bulk);
      // --- ML Commons connector target (server/ml-setup.ts, docs/ingest-pipeline.md); before the proxy.
      app.post('/ml/enrich', rawBody, mlEnrichRoute({ pipeline, alertSink, maxBodyBytes: config.maxBodyBytes, log, metrics }));
      // --- end ML Commons
      app.all(/.*/, rawBody, proxyRoute(client));
    },
    onClose: () => client.close(),
  };
}

export function buildService(config: Config, log: Logger, parts: ServiceParts = openSearchParts(config, log)): Service {
  const geoip = openGeoIp(config, log);
  const store = parts.store ?? new MemoryStateStore(config.state);
  let metrics: Metrics | undefined;
  const pipeline = createPipeline({
    detection: config.detection,
    geoip,
    store,
    log,
    cloudtrailIndexPattern: config.opensearch?.cloudtrailIndexPattern ?? 'cloudtrail-*',
    observe: (stage, seconds) => metrics?.stageSeconds.observe({ stage }, seconds),
  });
  metrics = new Metrics({
    pipeline,
    geoip,
    store,
    durableState: store instanceof OpenSearchStateStore ? store : undefined,
  });
  const m = metrics;
  const app = createApp({
    config,
    pipeline,
    geoip,
    store,
    log,
    alertSink: parts.alertSink,
    metrics: m,
    extraRoutes: parts.extraRoutes && ((a) => parts.extraRoutes!(a, pipeline, m)),
  });
  return {
    app,
    pipeline,
    geoip,
    store,
    metrics: m,
    async close() {
      geoip.close();
      // State written behind goes out now, before the client closes.
      await store.close?.();
      await parts.onClose?.();
    },
  };
}
