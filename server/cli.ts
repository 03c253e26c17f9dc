#!/usr/bin/env node
import { backfillCommand } from './backfill.js';
import { basename } from 'node:path';
import { loadConfig } from './config.js';
import { dashboardsFile, importSavedObjects } from './dashboards.js';
import { ConfigError, ServiceError } from './errors.js';
import { createOpenSearchClient } from './opensearch-client.js';
import { runServer } from './serve.js';
import { setup, setupOptions } from './setup.js';
import { mlSetup } from './ml-setup.js';

/**
 * `impossible-travel <command>`: serve (the default), setup, help. Exit codes: 0 done, 1 failed,
 * 2 bad usage, 78 bad configuration.
 */

const USAGE = `Usage: impossible-travel [command] [options]

Commands:
  serve            run the HTTP service (default); configured by environment variables
  setup            install the index templates and create the alerts and state indices in
                   the OpenSearch cluster at OPENSEARCH_URL (idempotent)
  backfill PATH... read CloudTrail log files from S3 folders through the pipeline into
                   OpenSearch, or print NDJSON with --dry-run (see backfill --help)
  help, --help     this text

Configuration is read from the environment (and CONFIG_FILE, a JSON file of the same names);
see docs/configuration.md. The most used settings:
  PORT (8080), HOST (127.0.0.1), GEOIP_CITY_DB, OPENSEARCH_URL, OPENSEARCH_USERNAME,
  OPENSEARCH_PASSWORD or OPENSEARCH_PASSWORD_FILE, OPENSEARCH_CA_FILE, ALERTS_INDEX,
  MIN_DISTANCE_KM (500), MAX_SPEED_KMH (1000), SUPPRESSION_WINDOW (24h)
`;

function fail(message: string, code: number): never {
  process.stderr.write(`impossible-travel: ${message}\n`);
  process.exit(code);
}

async function runSetup(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage: impossible-travel setup

Installs the composable index templates from mappings/ (CloudTrail indices, alerts, state) and
creates the alerts and state indices in the cluster at OPENSEARCH_URL. Safe to run again.
Honours CLOUDTRAIL_INDEX_PATTERN, ALERTS_INDEX, STATE_INDEX, OPENSEARCH_REPLICAS.
With DASHBOARDS_URL set, then imports the index patterns, searches, visualizations and dashboard
of mappings/dashboards/ into OpenSearch Dashboards (DASHBOARDS_FLAVOR=kibana: into Kibana), as
DASHBOARDS_USERNAME / DASHBOARDS_PASSWORD (default: the OpenSearch credentials).
With --ml-pipeline (or ML_PIPELINE=true), then creates the ML Commons connector to the service at
SERVICE_URL_FOR_OPENSEARCH (default http://127.0.0.1:PORT), its model and the ingest pipeline
impossible-travel-enrich, and sets the cluster settings they need; ML_DEFAULT_PIPELINE=true also
makes it the default pipeline of the CloudTrail indices (docs/ingest-pipeline.md).
`);
    return;
  }
  // --- ML Commons: --ml-pipeline
  const mlFlag = args.includes('--ml-pipeline');
  args = args.filter((a) => a !== '--ml-pipeline');
  // --- end ML Commons
  if (args.length > 0) fail(`setup takes no arguments (got ${args.join(' ')}); see --help`, 2);
  const config = loadConfig();
  if (!config.opensearch) throw new ConfigError('OPENSEARCH_URL', 'setup needs the URL of the OpenSearch cluster');
  const os = config.opensearch;
  const client = createOpenSearchClient(os);
  try {
    const report = await setup(client, setupOptions(os));
    for (const t of report.templates) process.stdout.write(`template ${t.name}: ${t.action}\n`);
    for (const i of report.indices) process.stdout.write(`index ${i.name}: ${i.action}\n`);
    // --- ML Commons: connector, model and ingest pipeline, after the templates they refer to.
    if (mlFlag || os.mlPipeline) {
      const ml = await mlSetup(client, {
        serviceUrl: os.serviceUrlForOpenSearch,
        apiKey: config.apiKeys[0],
        defaultPipeline: os.mlDefaultPipeline,
        cloudtrailIndexPattern: os.cloudtrailIndexPattern,
      });
      for (const [k, v] of Object.entries(ml.settings)) process.stdout.write(`cluster setting ${k}: ${JSON.stringify(v)}\n`);
      process.stdout.write(`ml connector ${ml.connector.id}: ${ml.connector.action} (-> ${os.serviceUrlForOpenSearch}/ml/enrich)\n`);
      process.stdout.write(`ml model group ${ml.modelGroup.id}: ${ml.modelGroup.action}\n`);
      process.stdout.write(`ml model ${ml.model.id}: ${ml.model.action}, ${ml.model.deployed}\n`);
      process.stdout.write(`ingest pipeline ${ml.pipeline.name}: ${ml.pipeline.action}\n`);
      if (ml.defaultPipeline) {
        process.stdout.write(`default pipeline of template ${ml.defaultPipeline.template ?? '(none found)'} and ${ml.defaultPipeline.indices.length} existing indices\n`);
      }
    }
    // --- end ML Commons
  } finally {
    await client.close();
  }
  // After the templates: an index pattern is only useful once its indices have their mappings.
  if (config.dashboards) {
    const d = config.dashboards;
    const file = dashboardsFile(d.flavor);
    const result = await importSavedObjects({
      url: d.url,
      file,
      flavor: d.flavor,
      username: d.username,
      password: d.password,
      indexPatternTitles: { alerts: `${os.alertsIndex}*`, cloudtrail: os.cloudtrailIndexPattern },
    });
    process.stdout.write(`saved objects ${basename(file)}: ${result.successCount} imported\n`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...args] = argv;
  switch (command) {
    case 'serve':
      if (args.includes('--help') || args.includes('-h')) return void process.stdout.write(USAGE);
      return runServer();
    case 'setup':
      return runSetup(args);
    case 'backfill':
      process.exitCode = await backfillCommand(args);
      return;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`, 78);
  if (err instanceof ServiceError) fail(err.message, 1);
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err), 1);
});
