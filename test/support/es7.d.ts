// `es7` is @elastic/elasticsearch 7.10 installed under an alias; its own typings are not found
// through the alias, so the little the tests use is declared here.
declare module 'es7' {
  export class Client {
    constructor(options: { node: string });
    helpers: {
      bulk(options: {
        datasource: readonly Record<string, unknown>[];
        onDocument: (doc: Record<string, unknown>) => Record<string, unknown>;
        flushBytes?: number;
        refreshOnCompletion?: string | boolean;
      }): Promise<{ total: number; successful: number; failed: number }>;
    };
    close(): Promise<void>;
  }
}
