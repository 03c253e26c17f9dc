import { runServer } from './serve.js';

// `npm start`: the service itself. The other commands live in cli.ts.
runServer().catch((err) => {
  process.stderr.write(`impossible-travel: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
