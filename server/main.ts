import { runServer } from './serve.js';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    'Usage: npm start  (node dist/server/main.js)\n\nRuns the service; every setting comes from the environment ' +
      '(docs/configuration.md). The other commands: node dist/server/cli.js --help\n',
  );
  process.exit(0);
}

// `npm start`: the service itself. The other commands live in cli.ts.
runServer().catch((err) => {
  process.stderr.write(`impossible-travel: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
