import { PassThrough } from 'node:stream';
import { createLogger } from '../src/log.js';

describe('createLogger', () => {
  it.each(['json', 'text'] as const)(
    '%s: an entry below the level is dropped before it is formatted; one at the level is written',
    (format) => {
      const out = new PassThrough();
      const lines: string[] = [];
      out.on('data', (b: Buffer) => lines.push(b.toString()));
      const log = createLogger('warn', format, out).child({ component: 'test' });
      let formatted = 0;
      // the formats serialize metadata, calling toJSON; a dropped entry must not get that far
      const meta = () => ({ detail: { toJSON: () => (formatted++, 'detail') } });
      log.debug('quiet', meta());
      log.info('quiet', meta());
      log.log('info', 'quiet', meta());
      expect(formatted).toBe(0);
      log.warn('loud', meta());
      expect(formatted).toBe(1);
      expect(lines.join('')).toContain('loud');
      expect(lines.join('')).not.toContain('quiet');
    },
  );
});
