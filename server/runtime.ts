/**
 * How Node runs the service (`npm start`, `make demo`, the benchmarks that start it).
 *
 * A batch of 1,000 CloudTrail records is ~5 MB of parsed objects that live until the batch is
 * answered; with V8's default 16 MB semi-space the young generation is collected several times
 * per batch, copying the live batch each time. A 32 MB semi-space halves that: measured on the
 * benchmark machine, +15 % records/s for the pipeline and ~+15 % for `_bulk` end to end, for up to
 * 48 MB more resident memory. The same value is written in package.json (`start`) and
 * scripts/demo.sh, which cannot import this file.
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--max-semi-space-size=32'];
