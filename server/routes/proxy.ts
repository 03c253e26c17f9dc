import type { Client } from '@opensearch-project/opensearch';
import type { NextFunction, Request, Response } from 'express';
import { upstreamError } from '../opensearch-errors.js';

/**
 * Everything that is not ours goes to OpenSearch as it came: shippers probe `GET /` for the
 * version, install index templates, check licences and aliases before they send `_bulk`. The
 * service's own credentials are used upstream; the client's Authorization header is not passed on.
 */
export function proxyRoute(client: Client) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const raw = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;
      const contentType = req.get('content-type');
      let status: number;
      let body: unknown;
      let headers: Record<string, unknown> = {};
      try {
        const response = await client.transport.request(
          { method: req.method, path: req.path, querystring: req.query as Record<string, unknown>, body: raw?.toString('utf8') },
          { headers: contentType ? { 'content-type': contentType } : {} },
        );
        status = response.statusCode ?? 200;
        body = response.body;
        headers = response.headers ?? {};
      } catch (err) {
        const meta = (err as { meta?: { statusCode?: number | null; body?: unknown; headers?: Record<string, unknown> } }).meta;
        if (typeof meta?.statusCode !== 'number' || meta.statusCode >= 500 || meta.statusCode === 429) throw upstreamError(err, `proxying ${req.method} ${req.path}`);
        status = meta!.statusCode!;
        body = meta!.body;
        headers = meta!.headers ?? {};
      }
      const type = headers['content-type'];
      if (typeof type === 'string') res.type(type);
      if (req.method === 'HEAD' || body === undefined || body === '') res.status(status).end();
      else if (typeof body === 'string') res.status(status).send(body);
      else res.status(status).json(body);
    } catch (err) {
      next(err);
    }
  };
}
