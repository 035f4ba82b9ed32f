#!/usr/bin/env -S node --optimize-for-size --heap-growing-percent=50
// annotary's command line: `run` (the operator), `keystore` (offline stores), `annotations`, `events`, `generate-types`.
import { annotationsTable } from './annotations.js';
import { ConfigError, helpText, loadConfig } from './config.js';
import { CONTROLLER_MODULES } from './controllers/index.js';
import { eventReasonsTable } from './event-reasons.js';
import { generateTypesTable } from './generate/spec.js';
import { version } from './identity.js';
import { keystoreCommand } from './keystore-cli.js';
import { createLogger, errorText } from './log.js';
import { createMetrics } from './metrics.js';
import { Operator } from './operator.js';

async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText());
    return 0;
  }
  const cfg = loadConfig(argv);
  const log = createLogger(cfg.logLevel, cfg.logFormat);
  const metrics = createMetrics();
  const operator = new Operator(cfg, log, metrics, CONTROLLER_MODULES);
  let stopping: Promise<void> | undefined;
  const stop = (signal: string, code = 0) => {
    if (stopping) return;
    log.info('shutting down', { signal });
    stopping = operator.stop().then(
      () => process.exit(code),
      (err) => {
        log.error('shutdown failed', { error: errorText(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // like client-go's default: a replica that lost the Lease restarts clean (Kubernetes restarts it)
  void operator.leadershipLost.then(() => stop('lost leadership', 1));
  // a bug in one reconcile must not take the operator down; the queue retries the key
  process.on('unhandledRejection', (err) => log.error('unhandled rejection', { error: errorText(err) }));
  await operator.start();
  return new Promise(() => {
    /* runs until a signal */
  });
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return run(rest);
    case 'keystore':
      return keystoreCommand(rest);
    case 'annotations':
      console.log(annotationsTable());
      return 0;
    case 'events':
      console.log(eventReasonsTable());
      return 0;
    case 'generate-types':
      console.log(generateTypesTable());
      return 0;
    case '--version':
    case 'version':
      console.log(version());
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(helpText());
      return 0;
    default:
      console.error(`annotary: unknown command "${cmd}"\n`);
      console.error(helpText());
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof ConfigError ? `annotary: ${err.message}` : `annotary: ${errorText(err)}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
