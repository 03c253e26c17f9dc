/**
 * The second half of `make demo`: sends the bundled CloudTrail sample through the service's
 * `_bulk` endpoint with the OpenSearch JavaScript client's bulk helper (exactly as a shipper would),
 * then reads the alerts back from the alerts index and prints them as a table.
 *
 *   npx tsx scripts/demo/run.ts <service-url> <opensearch-url>
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@opensearch-project/opensearch';

const [serviceUrl = 'http://127.0.0.1:8080', openSearchUrl = 'http://127.0.0.1:9200'] = process.argv.slice(2);
const cloudtrailIndex = process.env.DEMO_INDEX ?? 'cloudtrail-demo';
const alertsIndex = process.env.ALERTS_INDEX ?? 'impossible-travel-alerts';

interface Location {
  city: string | null;
  country: string | null;
  timestamp: string;
}
interface Alert {
  '@timestamp': string;
  userIdentity: { accessKeyId: string; type: string | null; session_name: string | null };
  impossible_travel: {
    triggering_locations: {
      first_location: Location;
      second_location: Location;
      travel_distance: number;
      travel_time_human_readable: string;
      travel_speed: number;
    };
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((cell, c) => (c >= 5 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

const place = (l: Location): string => [l.city, l.country].filter(Boolean).join(', ') || 'unknown';

async function main(): Promise<void> {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'cloudtrail-sample.ndjson');
  const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  const viaService = new Client({ node: serviceUrl });
  const started = Date.now();
  const stats = await viaService.helpers.bulk({
    datasource: records,
    // The CloudTrail event id as document id: running the demo again overwrites, never duplicates.
    onDocument: (doc) => ({ index: { _index: cloudtrailIndex, _id: String(doc.eventID) } }),
    flushBytes: 64 * 1024,
    concurrency: 2,
    refreshOnCompletion: cloudtrailIndex,
    onDrop: (dropped) => console.error(`not stored: ${JSON.stringify(dropped.error)}`),
  });
  await viaService.close();
  console.log(`\nsent ${stats.total} CloudTrail records through ${serviceUrl}/_bulk in ${Date.now() - started} ms: ${stats.successful} stored, ${stats.failed} failed`);

  const os = new Client({ node: openSearchUrl });
  await os.indices.refresh({ index: alertsIndex });
  const located = await os.count({ index: cloudtrailIndex, body: { query: { exists: { field: 'source.geo.location' } } } });
  console.log(`${(located.body as { count: number }).count} of them located by GeoIP in ${cloudtrailIndex} (source.geo.*)`);
  const res = await os.search({
    index: alertsIndex,
    body: { size: 100, sort: [{ '@timestamp': 'asc' }], query: { range: { '@timestamp': { gte: '2025-03-18T00:00:00Z', lt: '2025-03-19T00:00:00Z' } } } },
  });
  await os.close();
  const alerts = (res.body as { hits: { hits: { _source: Alert }[] } }).hits.hits.map((h) => h._source);
  console.log(`\n${alerts.length} impossible-travel alerts in ${alertsIndex}:\n`);
  const rows = [['time (UTC)', 'access key', 'who', 'from', 'to', 'distance', 'in', 'speed']];
  for (const a of alerts) {
    const t = a.impossible_travel.triggering_locations;
    rows.push([
      a['@timestamp'].replace('T', ' ').replace(/\.\d+Z$/, ''),
      a.userIdentity.accessKeyId,
      a.userIdentity.session_name ?? a.userIdentity.type ?? '',
      place(t.first_location),
      place(t.second_location),
      `${t.travel_distance.toLocaleString('en-US')} km`,
      t.travel_time_human_readable,
      `${t.travel_speed.toLocaleString('en-US')} km/h`,
    ]);
  }
  console.log(table(rows));
}

main().catch((err) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
