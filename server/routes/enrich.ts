import type { NextFunction, Request, Response } from 'express';
import type { AppDeps } from '../app.js';
import { readRecords } from '../input.js';

/**
 * POST /enrich: CloudTrail in (any shape input.ts reads), `{docs, alerts}` out. With OpenSearch
 * configured the alerts are stored before the answer; if they cannot be, the request fails with
 * a retryable status, since reporting them otherwise would claim a write that did not happen.
 */
export function enrichRoute(deps: AppDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const records = readRecords(body, {
        contentType: req.get('content-type'),
        contentEncoding: undefined, // body-parser inflated it
        maxBytes: deps.config.maxBodyBytes,
      });
      const result = await deps.pipeline.run(records, deps.log.child({ route: 'enrich' }));
      if (deps.alertSink && result.alerts.length > 0) await deps.alertSink.write(result.alerts);
      res.json(result);
    } catch (err) {
      next(err);
    }
  };
}
