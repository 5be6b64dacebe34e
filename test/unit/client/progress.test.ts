import { describe, expect, it } from 'vitest';
import { createProgress, formatElapsed, SPINNER_FRAMES } from '#client/cli/progress.ts';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, write: (t: string) => writes.push(t) };
}

describe('CLI progress', () => {
  it('prints plain lines without control characters when not on a terminal, one per change', () => {
    let t = 0;
    const s = stream(false);
    const p = createProgress({ stream: s, now: () => t });
    expect(p.tty).toBe(false);
    const sp = p.spinner('Waiting for Tx0 abc');
    sp.update('0/1 confirmations');
    t = 5000;
    sp.update('0/1 confirmations'); // unchanged: no new line
    t = 65_000;
    sp.update('1/1 confirmations');
    sp.done('Tx0 abc confirmed');
    p.line('done');
    expect(s.writes).toEqual([
      'Waiting for Tx0 abc: 0/1 confirmations\n',
      'Waiting for Tx0 abc: 1/1 confirmations\n',
      'Tx0 abc confirmed (1 min 05 s)\n',
      'done\n',
    ]);
    expect(s.writes.join('')).not.toMatch(/[\r\x1b]/);
  });

  it('redraws one spinner line in place on a terminal, with the elapsed time', () => {
    let t = 0;
    const s = stream(true);
    const sp = createProgress({ stream: s, now: () => t, frameMs: 0 }).spinner('Mixing');
    t = 2000;
    sp.update('REGISTER_OUTPUT');
    sp.done('Mixed');
    expect(s.writes[0]).toBe(`\r\x1b[2K${SPINNER_FRAMES[0]} Mixing (0 s)`);
    expect(s.writes[1]).toBe(`\r\x1b[2K${SPINNER_FRAMES[1]} Mixing: REGISTER_OUTPUT (2 s)`);
    expect(s.writes[2]).toBe('\r\x1b[2K✔ Mixed (2 s)\n');
    expect(s.writes.every((w) => w.startsWith('\r'))).toBe(true);
  });

  it('animates on its own timer on a terminal until done', async () => {
    const s = stream(true);
    const sp = createProgress({ stream: s, frameMs: 10 }).spinner('Waiting');
    await new Promise((r) => setTimeout(r, 60));
    sp.done('ok');
    const frames = s.writes.length;
    expect(frames).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 40));
    expect(s.writes.length).toBe(frames);
  });

  it('formats elapsed times', () => {
    expect(formatElapsed(0)).toBe('0 s');
    expect(formatElapsed(59_999)).toBe('59 s');
    expect(formatElapsed(125_000)).toBe('2 min 05 s');
  });
});
