/**
 * The registerInput bounds in front of the engine: per-session burst and
 * refill, the instance-wide rate, the validation semaphore with its bounded
 * queue, refusals answered with an ErrorResponse and counted, and the order
 * of a session's SENDs kept behind a waiting registerInput.
 */
import { describe, expect, it } from 'vitest';
import type { LimitName } from '#coordinator/limits/refusals.ts';
import { limitRegisterInput, REGISTER_INPUT_BUSY } from '#coordinator/limits/register_input_limiter.ts';
import type { ClientSession, StompApplication } from '#coordinator/transport/stomp_application.ts';

function session(id: string) {
  const sent: Array<[string, unknown]> = [];
  const s = {
    id,
    ip: '10.0.0.1',
    connectHeaders: new Map(),
    transport: 'websocket',
    closed: false,
    sendPrivate: (name: string, payload: unknown) => sent.push([name, payload]),
    close: () => undefined,
  } as unknown as ClientSession;
  return { s, sent };
}

function engine() {
  const calls: string[] = [];
  const finish: Array<() => void> = [];
  const app: StompApplication = {
    onSubscribe: () => undefined,
    onSend(sess, destination, _h, body) {
      calls.push(`${sess.id} ${destination} ${body}`);
      return new Promise<void>((r) => finish.push(r));
    },
    onDisconnect: () => undefined,
  };
  return { app, calls, finish };
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('limitRegisterInput', () => {
  it('refuses beyond the per-session burst until the refill, with an ErrorResponse, counted', async () => {
    let now = 0;
    const refused: LimitName[] = [];
    const e = engine();
    const app = limitRegisterInput(
      e.app,
      { burstPerSession: 2, refillMsPerSession: 1000, perSecond: 100, concurrency: 10 },
      { refused: (l) => refused.push(l) },
      () => now,
    );
    const a = session('a');
    for (let i = 0; i < 3; i++) app.onSend(a.s, '/ws/registerInput', new Map(), `r${i}`);
    await flush();
    expect(e.calls).toEqual(['a /ws/registerInput r0']); // r1 waits behind r0 (session order)
    e.finish.shift()!();
    await flush();
    expect(e.calls).toEqual(['a /ws/registerInput r0', 'a /ws/registerInput r1']);
    expect(a.sent).toEqual([
      ['ErrorResponse', { mixId: null, errorCode: expect.any(Number), message: REGISTER_INPUT_BUSY }],
    ]);
    expect(refused).toEqual(['register_input_session_rate']);
    now = 1000;
    e.finish.shift()!();
    app.onSend(a.s, '/ws/registerInput', new Map(), 'r3');
    await flush();
    expect(e.calls).toHaveLength(3);
  });

  it('refuses beyond the instance-wide rate', async () => {
    const refused: LimitName[] = [];
    const e = engine();
    const app = limitRegisterInput(
      e.app,
      { burstPerSession: 5, refillMsPerSession: 0, perSecond: 3, concurrency: 10 },
      { refused: (l) => refused.push(l) },
      () => 0,
    );
    for (let i = 0; i < 5; i++) app.onSend(session(`s${i}`).s, '/ws/registerInput', new Map(), 'x');
    await flush();
    expect(e.calls).toHaveLength(3);
    expect(refused).toEqual(['register_input_rate', 'register_input_rate']);
  });

  it('runs at most `concurrency` validations, queues 8× that, refuses beyond; keeps each session in order', async () => {
    const refused: LimitName[] = [];
    const e = engine();
    const app = limitRegisterInput(
      e.app,
      { burstPerSession: 5, refillMsPerSession: 0, perSecond: 1000, concurrency: 1 },
      { refused: (l) => refused.push(l) },
      () => 0,
    );
    const sessions = Array.from({ length: 10 }, (_, i) => session(`s${i}`));
    const done = sessions.map((x) => app.onSend(x.s, '/ws/registerInput', new Map(), 'reg'));
    // s0's confirmInput waits behind its own registerInput
    app.onSend(sessions[0]!.s, '/ws/confirmInput', new Map(), 'confirm');
    await flush();
    expect(e.calls).toEqual(['s0 /ws/registerInput reg']);
    expect(refused).toEqual(['register_input_busy']); // 1 running + 8 waiting, the 10th refused
    e.finish.shift()!();
    await flush();
    expect(e.calls.slice(1, 3)).toEqual(['s1 /ws/registerInput reg', 's0 /ws/confirmInput confirm']);
    while (e.finish.length) {
      e.finish.shift()!();
      await flush();
    }
    expect(e.calls).toHaveLength(10);
    expect(done[9]).toBeUndefined();
  });
});
