/**
 * The coordinator logger never writes secrets: redacted fields (top level
 * and nested), URL redaction, and a whole config object logged by mistake.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseEnv } from '#coordinator/config/env.ts';
import { createLogger, redactUrl } from '#coordinator/log.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      cb();
    },
  });
  return {
    stream,
    text: () => buf,
    lines: () =>
      buf
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes JSON lines with level, time and message', () => {
    const c = capture();
    createLogger({ level: 'info' }, c.stream).info({ poolId: 'p' }, 'hello');
    const [line] = c.lines();
    expect(line).toMatchObject({ level: 30, name: 'coordinator', poolId: 'p', msg: 'hello' });
    expect(typeof line!.time).toBe('string');
  });

  it('redacts secret fields at any of the first levels', () => {
    const c = capture();
    const log = createLogger({}, c.stream);
    log.info({
      password: 'pw1',
      nested: { passphrase: 'pw2', deeper: { words: 'pw3' } },
      dbUrl: 'mysql://u:pw4@h/d',
    });
    const text = c.text();
    for (const s of ['pw1', 'pw2', 'pw3', 'pw4']) expect(text).not.toContain(s);
    expect(text).toContain('[redacted]');
  });

  it('redacts a whole env config logged by mistake', () => {
    const c = capture();
    const env = parseEnv({
      WHIRLPOOL_DB_URL: 'mysql://u:dbsecret@h/d',
      WHIRLPOOL_BITCOIN_RPC_URL: 'http://u:rpcsecret@h:1',
      WHIRLPOOL_NETWORK: 'regtest',
      WHIRLPOOL_POOLS: 'p.json',
      WHIRLPOOL_SECRET_WALLET_WORDS:
        'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
      WHIRLPOOL_SECRET_WALLET_PASSPHRASE: 'walletsecret',
    });
    createLogger({}, c.stream).info({ config: env }, 'oops');
    const text = c.text();
    for (const s of ['dbsecret', 'rpcsecret', 'walletsecret', 'abandon']) expect(text).not.toContain(s);
  });

  it('respects the level', () => {
    const c = capture();
    const log = createLogger({ level: 'warn' }, c.stream);
    log.info('hidden');
    log.warn('shown');
    expect(c.lines().map((l) => l.msg)).toEqual(['shown']);
  });
});

describe('redactUrl', () => {
  it('hides the password and never echoes an unparseable value', () => {
    expect(redactUrl('mysql://root:secret@db:3306/w')).toBe('mysql://root:***@db:3306/w');
    expect(redactUrl('mysql://root@db/w')).toBe('mysql://root@db/w');
    expect(redactUrl('not a url secret')).toBe('<invalid url>');
  });
});
