// JSON logs by default (one object per line, for log pipelines), text for humans.
// Nothing in the operator passes object data to a logger: only names, reasons and digests.
import winston from 'winston';

export type Logger = winston.Logger;
export type LogFormat = 'json' | 'text';

export function createLogger(level: string, format: LogFormat, stream: NodeJS.WritableStream = process.stderr): Logger {
  const fmt =
    format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp(),
          winston.format.printf(({ timestamp, level: lvl, message, component, ...rest }) => {
            const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
            const tag = typeof component === 'string' ? `[${component}] ` : '';
            return `${String(timestamp)} ${lvl.toUpperCase().padEnd(5)} ${tag}${String(message)}${extra}`;
          }),
        );
  const logger = winston.createLogger({ level, format: fmt, transports: [new winston.transports.Stream({ stream })] });
  // winston formats every entry (timestamp, JSON) and streams it to the transport, which only then
  // drops what is below the level: a debug line cost as much as a written one (#20). Every entry,
  // a child logger's too, goes through this write, so it is dropped here first.
  const write = logger.write.bind(logger);
  logger.write = ((info: winston.LogEntry) => (logger.isLevelEnabled(info.level) ? write(info) : true)) as typeof logger.write;
  return logger;
}

/** Error text safe for logs and Events: the message only, never a stack or a request body. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
