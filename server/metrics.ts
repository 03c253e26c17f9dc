import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GeoIpDatabase } from '../processors/geoip-database.js';
import type { Pipeline } from '../processors/pipeline.js';
import type { StateStore } from '../processors/state.js';

/**
 * Prometheus metrics (prom-client: the registry, exposition format and process metrics are not
 * worth writing again). Counters that the pipeline, GeoIP database and state store keep anyway
 * are read when scraped rather than counted twice.
 */

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly stageSeconds = new Histogram({
    name: 'impossible_travel_stage_duration_seconds',
    help: 'Time spent per stage of a batch: parse, enrich, state_prepare, detect, state_commit, alerts_write, forward.',
    labelNames: ['stage'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'impossible_travel_http_request_duration_seconds',
    help: 'HTTP request latency by route and status.',
    labelNames: ['route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly recordsOut = new Counter({
    name: 'impossible_travel_records_out_total',
    help: 'Enriched records returned (/enrich) or acknowledged as stored by OpenSearch (_bulk).',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly openSearchErrors = new Counter({
    name: 'impossible_travel_opensearch_errors_total',
    help: 'OpenSearch failures by operation (whole requests, and bulk items OpenSearch did not store).',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  readonly openSearchRetries = new Counter({
    name: 'impossible_travel_opensearch_retries_total',
    help: 'Requests answered 429/503 so that the client retries, by route.',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  constructor(deps: {
    pipeline: Pipeline;
    geoip: GeoIpDatabase;
    store: StateStore;
    /** The OpenSearch state store's own counts, when there is one. */
    durableState?: { readonly conflicts: number; readonly writeFailures: number; readonly expired: number; readonly pendingWrites: number; readonly reads: number; readonly writes: number; readonly soleWriter: boolean };
  }) {
    const r = [this.registry];
    const c = deps.pipeline.counters;
    const fromCounter = (name: string, help: string, read: () => number): void => {
      new Counter({ name, help, registers: r, collect() { this.reset(); this.inc(read()); } });
    };
    fromCounter('impossible_travel_records_in_total', 'CloudTrail records received.', () => c.records);
    fromCounter('impossible_travel_record_errors_total', 'Records that could not be processed (answered as per-item errors).', () => c.recordErrors);
    fromCounter('impossible_travel_records_located_total', 'Records with a public, located address taking part in travel detection.', () => c.located);
    fromCounter('impossible_travel_alerts_total', 'Impossible-travel alerts raised.', () => c.alerts);
    fromCounter('impossible_travel_geoip_lookups_total', 'GeoIP lookups.', () => deps.geoip.lookups);
    fromCounter('impossible_travel_geoip_misses_total', 'GeoIP lookups of a valid address the database does not locate.', () => deps.geoip.misses);
    fromCounter('impossible_travel_geoip_tree_lookups_total', 'GeoIP lookups that read the database files: neither the address nor its /24 or /48 was cached.', () => deps.geoip.treeLookups);
    fromCounter('impossible_travel_state_evictions_total', 'Access keys evicted from the in-memory state (LRU).', () => deps.store.stats().keyEvictions);
    const durable = deps.durableState;
    if (durable) {
      fromCounter('impossible_travel_state_write_conflicts_total', 'State writes retried after another instance wrote the same key (or its document was deleted).', () => durable.conflicts);
      fromCounter('impossible_travel_state_documents_expired_total', 'Key state documents deleted by the retention sweep (STATE_RETENTION).', () => durable.expired);
      fromCounter('impossible_travel_state_write_failures_total', 'Interval state writes that failed (each is tried again at the next interval).', () => durable.writeFailures);
      fromCounter('impossible_travel_state_documents_read_total', 'State documents (keys and principals) asked of OpenSearch.', () => durable.reads);
      fromCounter('impossible_travel_state_documents_written_total', 'State documents (keys and principals) sent to OpenSearch to be written.', () => durable.writes);
      new Gauge({
        name: 'impossible_travel_state_sole_writer',
        help: '1 while this instance\'s own state writes show no other writer of the state index (memory is then not re-read), else 0.',
        registers: r,
        collect() {
          this.set(durable.soleWriter ? 1 : 0);
        },
      });
      new Gauge({
        name: 'impossible_travel_state_pending_writes',
        help: 'Keys and principals whose changed state is not yet written to OpenSearch.',
        registers: r,
        collect() {
          this.set(durable.pendingWrites);
        },
      });
    }
    new Gauge({ name: 'impossible_travel_state_keys', help: 'Access keys held in memory.', registers: r, collect() { this.set(deps.store.stats().keys); } });
    new Gauge({ name: 'impossible_travel_state_principals', help: 'Principal baselines held in memory.', registers: r, collect() { this.set(deps.store.stats().principals); } });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Times an async stage; records the duration whether it succeeds or fails. */
  async time<T>(stage: string, run: () => Promise<T>): Promise<T> {
    const end = this.stageSeconds.startTimer({ stage });
    try {
      return await run();
    } finally {
      end();
    }
  }
}
