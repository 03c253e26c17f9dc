import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { describeConfig, loadConfig } from './config.js';
import { ConfigError, ServiceError } from './errors.js';
import { createLogger } from './log.js';
import { createOpenSearchClient } from './opensearch-client.js';
import { buildService } from './service.js';
import { setup, setupOptions } from './setup.js';

/**
 * Starts the service: configuration, GeoIP, state, HTTP. Any problem found before listening stops
 * start-up with one line naming the setting and exit code 78 (EX_CONFIG). SIGTERM and SIGINT stop
 * accepting, let requests in flight finish, then exit 0.
 */
export async function runServer(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`impossible-travel: invalid configuration: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let service;
  try {
    service = buildService(config, log);
  } catch (err) {
    if (err instanceof ServiceError) {
      log.fatal({ code: err.code }, err.message);
      process.stderr.write(`impossible-travel: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const os = config.opensearch;
  if (os?.setupOnStart) {
    // Idempotent; the state index in particular must exist with its mapping before the first write.
    const client = createOpenSearchClient(os);
    try {
      const report = await setup(client, setupOptions(os));
      log.info({ report }, 'OpenSearch templates and indices in place');
    } catch (err) {
      log.error({ err }, 'could not install the OpenSearch templates and indices; run `impossible-travel setup` once OpenSearch is reachable');
    } finally {
      await client.close();
    }
  }
  const server: Server = config.tls
    ? createHttpsServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }, service.app)
    : createHttpServer(service.app);
  server.listen(config.port, config.host);
  server.on('error', (err) => {
    log.fatal({ err }, `cannot listen on ${config.host}:${config.port}`);
    process.exit(1);
  });
  server.on('listening', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    log.info({ config: describeConfig(config), port }, `impossible-travel listening on ${config.tls ? 'https' : 'http'}://${config.host}:${port}`);
  });

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: no new connections, finishing requests in flight');
    server.close(async () => {
      await service.close();
      log.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

