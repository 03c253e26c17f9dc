import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { InputError, ServiceError, errorMessage } from './errors.js';
import type { GeoIpDatabase } from '../processors/geoip-database.js';
import type { Pipeline } from '../processors/pipeline.js';
import type { StateStore } from '../processors/state.js';
import { ApiKeyCheck } from './auth.js';
import type { Metrics } from './metrics.js';
import { enrichRoute } from './routes/enrich.js';

/**
 * Builds the HTTP application from its parts; it never listens (main.ts does), so tests drive it
 * with supertest and their own fakes behind the same interfaces.
 */

/** Where alerts go once raised; absent in the pure processor mode (no OPENSEARCH_URL). */
export interface AlertSink {
  /** Resolves once every alert is acknowledged as stored; rejects (UpstreamError) otherwise. */
  write(alerts: readonly Record<string, unknown>[]): Promise<void>;
}

export interface AppDeps {
  readonly config: Pick<Config, 'maxBodyBytes' | 'maxRecordsPerRequest' | 'apiKeys'>;
  readonly pipeline: Pipeline;
  readonly geoip: GeoIpDatabase;
  readonly store: StateStore;
  readonly log: Logger;
  readonly alertSink?: AlertSink | undefined;
  readonly metrics?: Metrics | undefined;
  /** Extra routes (the OpenSearch-facing ones), mounted before the 404 handler. */
  readonly extraRoutes?: ((app: express.Express) => void) | undefined;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 0);
  app.set('etag', false);

  const metrics = deps.metrics;
  if (metrics) {
    app.use((req, res, next) => {
      const end = metrics.requestSeconds.startTimer();
      res.on('finish', () => end({ route: routeLabel(req.path), status: String(res.statusCode) }));
      next();
    });
  }

  app.use(new ApiKeyCheck(deps.config.apiKeys).middleware(['/healthz']));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', geoip: deps.geoip.description, state: deps.store.stats() });
  });

  // Bodies are read raw (inflated by body-parser within the same size limit) and parsed by input.ts.
  const rawBody = express.raw({ type: () => true, limit: deps.config.maxBodyBytes });
  app.post('/enrich', rawBody, enrichRoute(deps));
  if (metrics) {
    app.get('/metrics', async (_req, res, next) => {
      try {
        res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      } catch (err) {
        next(err);
      }
    });
  }

  deps.extraRoutes?.(app);

  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: { type: 'not_found', reason: `no route for ${req.method} ${req.path}` } });
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = errorResponse(err, deps.config.maxBodyBytes);
    if (status >= 500) deps.log.error({ err, path: req.path }, 'request failed');
    else deps.log.debug({ path: req.path, status, reason: body.error.reason }, 'request refused');
    if (res.headersSent) return;
    res.status(status).json(body);
  });
  return app;
}

/** A small fixed set of route labels, so that arbitrary proxied paths cannot explode metric cardinality. */
function routeLabel(path: string): string {
  if (path === '/enrich' || path === '/healthz' || path === '/metrics' || path === '/ml/enrich') return path;
  if (path === '/_bulk' || path.endsWith('/_bulk')) return '/_bulk';
  return 'proxy';
}

export function errorResponse(err: unknown, maxBodyBytes: number): { status: number; body: { error: { type: string; reason: string } } } {
  if (err instanceof ServiceError) return { status: err.status, body: { error: err.toJSON() } };
  const e = err as { type?: string; status?: number };
  // body-parser's own errors: too large, aborted, bad charset.
  if (e?.type === 'entity.too.large') {
    const tooLarge = new InputError('body_too_large', `the body is larger than ${maxBodyBytes} bytes (MAX_BODY_BYTES)`, 413);
    return { status: 413, body: { error: tooLarge.toJSON() } };
  }
  if (e?.type === 'encoding.unsupported') {
    return { status: 415, body: { error: { type: 'unsupported_encoding', reason: `${errorMessage(err)}; send identity, gzip, deflate or br` } } };
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, body: { error: { type: 'body_unparseable', reason: errorMessage(err) } } };
  }
  return { status: 500, body: { error: { type: 'internal', reason: 'internal error; see the service log' } } };
}
