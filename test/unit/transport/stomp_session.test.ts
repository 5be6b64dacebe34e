import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '#coordinator/log.ts';
import type { ClientSession, StompApplication } from '#coordinator/transport/stomp_application.ts';
import {
  DEFAULT_SESSION_SETTINGS,
  type SessionWire,
  StompSession,
  selectStompVersion,
} from '#coordinator/transport/stomp_session.ts';

class FakeWire implements SessionWire {
  readonly kind = 'websocket' as const;
  writes: string[] = [];
  closes: Array<[number, string]> = [];
  terminated = 0;
  buffered = 0;
  write(data: string): void {
    this.writes.push(data);
  }
  bufferedBytes(): number {
    return this.buffered;
  }
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
  }
  terminate(): void {
    this.terminated++;
  }
}

class RecordingApp implements StompApplication {
  calls: string[] = [];
  throwOn: string | null = null;
  onSubscribe(_s: ClientSession, destination: string): void {
    this.calls.push(`sub ${destination}`);
    if (this.throwOn === 'sub') throw new Error('boom');
  }
  onSend(_s: ClientSession, destination: string, headers: ReadonlyMap<string, string>, body: string): void {
    this.calls.push(`send ${destination} ${headers.get('x') ?? ''} ${body}`);
    if (this.throwOn === 'send') throw new Error('boom');
  }
  onDisconnect(s: ClientSession): void {
    this.calls.push(`disconnect ${s.closed}`);
  }
}

function setup(settings: Partial<typeof DEFAULT_SESSION_SETTINGS> = {}) {
  const wire = new FakeWire();
  const app = new RecordingApp();
  const ended: StompSession[] = [];
  const session = new StompSession({
    id: 'sess-1',
    ip: '10.0.0.1',
    wire,
    app,
    logger: silentLogger(),
    settings: { ...DEFAULT_SESSION_SETTINGS, heartbeat: [1000, 1000], connectTimeoutMs: 5000, ...settings },
    onEnded: (s) => ended.push(s),
  });
  return { wire, app, session, ended };
}

const flush = () => new Promise<void>((r) => queueMicrotask(r));

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('selectStompVersion', () => {
  it('prefers 1.2, then 1.1, then 1.0; absent is 1.0; unknown is null', () => {
    expect(selectStompVersion('1.0,1.1,1.2')).toBe('1.2');
    expect(selectStompVersion('1.1, 1.0')).toBe('1.1');
    expect(selectStompVersion('1.0')).toBe('1.0');
    expect(selectStompVersion(undefined)).toBe('1.0');
    expect(selectStompVersion('2.0')).toBeNull();
  });
});

describe('StompSession', () => {
  it('answers CONNECT like Spring and keeps the CONNECT headers (first wins)', () => {
    const { wire, session } = setup();
    session.receive('CONNECT\naccept-version:1.2\nheart-beat:0,0\npoolId:a\npoolId:b\n\n\0');
    expect(wire.writes).toEqual(['CONNECTED\nversion:1.2\nheart-beat:1000,1000\nuser-name:sess-1\n\n\0']);
    expect(session.connectHeaders.get('poolId')).toBe('a');
    expect(session.connected).toBe(true);
    expect(session.transport).toBe('websocket');
  });

  it('sends heart-beats only after write silence, and drops a peer silent for 3× its interval', async () => {
    const { wire, app, session, ended } = setup();
    session.receive('CONNECT\naccept-version:1.2\nheart-beat:2000,500\n\n\0');
    wire.writes.length = 0;
    // Server sends every max(1000, 500) = 1000 ms; expects every max(2000, 1000) = 2000 ms → timeout 6000 ms.
    vi.advanceTimersByTime(999);
    expect(wire.writes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(wire.writes).toEqual(['\n']);
    vi.advanceTimersByTime(600);
    session.sendPrivate('ErrorResponse', { mixId: null, message: 'x' }); // no subscription: nothing written
    session.receive('SUBSCRIBE\nid:1\ndestination:/private/reply\n\n\0');
    session.sendPrivate('ErrorResponse', { mixId: null, message: 'x' });
    expect(wire.writes).toHaveLength(2);
    vi.advanceTimersByTime(999); // the MESSAGE refreshed the heart-beat timer
    expect(wire.writes).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(wire.writes.at(-1)).toBe('\n');
    vi.advanceTimersByTime(4999); // last inbound (SUBSCRIBE) at t=1600 → times out at t=7600
    expect(wire.terminated).toBe(0);
    session.receive('\n'); // t=7599: a heart-beat from the peer resets the clock
    vi.advanceTimersByTime(5999);
    expect(wire.terminated).toBe(0);
    vi.advanceTimersByTime(1);
    expect(wire.terminated).toBe(1);
    expect(session.closed).toBe(true);
    expect(ended).toEqual([session]);
    await flush();
    expect(app.calls.filter((c) => c.startsWith('disconnect'))).toEqual(['disconnect true']);
  });

  it('calls onDisconnect exactly once whatever ends the session, and never before CONNECT', async () => {
    const a = setup();
    a.session.receive('CONNECT\n\n\0');
    a.session.close('bye');
    a.session.close('again');
    a.session.wireClosed('socket closed');
    await flush();
    expect(a.app.calls).toEqual(['disconnect true']);
    expect(a.wire.closes).toEqual([[1000, 'bye']]);

    const b = setup();
    b.session.wireClosed('socket closed');
    await flush();
    expect(b.app.calls).toEqual([]);
    expect(b.ended).toEqual([b.session]);
  });

  it('closes when CONNECT does not come in time', () => {
    const { wire, session } = setup();
    vi.advanceTimersByTime(5000);
    expect(wire.writes[0]).toMatch(/^ERROR\nmessage:No CONNECT frame received in time\n/);
    expect(wire.closes).toEqual([[1002, 'Protocol error']]);
    expect(session.closed).toBe(true);
  });

  it('routes private messages to every /private/reply subscription, in order, with unique message ids', () => {
    const { wire, session } = setup();
    session.receive('CONNECT\n\n\0SUBSCRIBE\nid:a\ndestination:/private/reply\n\n\0');
    session.receive('SUBSCRIBE\nid:b\ndestination:/private/reply\n\n\0');
    wire.writes.length = 0;
    session.sendPrivate('SuccessMixStatusNotification', { status: 'SUCCESS', mixId: 'm' });
    expect(wire.writes).toHaveLength(2);
    expect(wire.writes[0]).toBe(
      'MESSAGE\ndestination:/private/reply\ncontent-type:application/json;charset=UTF-8\nsubscription:a\nmessage-id:sess-1-0\n' +
        'messageType:com.samourai.whirlpool.protocol.websocket.notifications.SuccessMixStatusNotification\n' +
        'protocolVersion:0.23\ncontent-length:32\n\n{"status":"SUCCESS","mixId":"m"}\0',
    );
    expect(wire.writes[1]).toContain('subscription:b\nmessage-id:sess-1-1\n');
    session.receive('UNSUBSCRIBE\nid:a\n\n\0UNSUBSCRIBE\nid:b\n\n\0');
    wire.writes.length = 0;
    session.sendPrivate('FailMixStatusNotification', { status: 'FAIL', mixId: 'm' });
    expect(wire.writes).toEqual([]);
  });

  it('passes SEND headers (first wins) and the UTF-8 body to the app, then the receipt', () => {
    const { wire, app, session } = setup();
    session.receive('CONNECT\n\n\0');
    wire.writes.length = 0;
    session.receive(
      new Uint8Array([
        ...new TextEncoder().encode('SEND\ndestination:/ws/signing\nx:1\nx:2\nreceipt:r\n\n'),
        0xc3,
        0xa9,
        0,
      ]),
    );
    expect(app.calls).toEqual(['send /ws/signing 1 é']);
    expect(wire.writes).toEqual(['RECEIPT\nreceipt-id:r\n\n\0']);
  });

  it('survives an application that throws, still sending the receipt', () => {
    const { wire, app, session } = setup();
    session.receive('CONNECT\n\n\0');
    app.throwOn = 'send';
    session.receive('SEND\ndestination:/ws/signing\nreceipt:1\n\nx\0');
    app.throwOn = 'sub';
    session.receive('SUBSCRIBE\nid:0\ndestination:/private/reply\nreceipt:2\n\n\0');
    expect(wire.writes.slice(1)).toEqual(['RECEIPT\nreceipt-id:1\n\n\0', 'RECEIPT\nreceipt-id:2\n\n\0']);
    expect(session.closed).toBe(false);
  });

  it('refuses SEND outside the five /ws destinations', () => {
    for (const dest of ['/private/reply', '/reply-usersess-1', '/ws/other', '/ws/connect/x']) {
      const { wire, app, session } = setup();
      session.receive(`CONNECT\n\n\0SEND\ndestination:${dest}\n\n{}\0`);
      expect(wire.writes[1]).toMatch(/^ERROR\nmessage:Access is denied/);
      expect(app.calls).toEqual([]);
      expect(session.closed).toBe(true);
    }
    for (const dest of [
      '/ws/connect',
      '/ws/registerInput',
      '/ws/confirmInput',
      '/ws/revealOutput',
      '/ws/signing',
    ]) {
      const { app, session } = setup();
      session.receive(`CONNECT\n\n\0SEND\ndestination:${dest}\n\n{}\0`);
      expect(app.calls).toEqual([`send ${dest}  {}`]);
    }
  });

  it('terminates a slow consumer', async () => {
    const { wire, app, session } = setup({ maxBufferedBytes: 100 });
    session.receive('CONNECT\n\n\0SUBSCRIBE\nid:0\ndestination:/private/reply\n\n\0');
    wire.buffered = 101;
    session.sendPrivate('ErrorResponse', { mixId: null, message: 'x' });
    expect(wire.terminated).toBe(1);
    expect(session.closed).toBe(true);
    await flush();
    expect(app.calls.at(-1)).toBe('disconnect true');
  });

  it('caps subscriptions', () => {
    const { wire, session } = setup({ maxSubscriptions: 2 });
    session.receive('CONNECT\n\n\0');
    for (let i = 0; i < 3; i++) session.receive(`SUBSCRIBE\nid:${i}\ndestination:/private/reply\n\n\0`);
    expect(wire.writes.at(-1)).toMatch(/^ERROR\nmessage:Too many subscriptions/);
  });

  it('counts every SUBSCRIBE frame: a re-SUBSCRIBE with the same id does not escape the limit', () => {
    const { wire, app, session } = setup({ maxSubscribeFrames: 3 });
    session.receive('CONNECT\n\n\0');
    session.receive('SUBSCRIBE\nid:0\ndestination:/private/reply\n\n\0'.repeat(10));
    expect(app.calls).toEqual(['sub /private/reply', 'sub /private/reply', 'sub /private/reply']);
    expect(wire.writes.at(-1)).toMatch(/^ERROR\nmessage:Too many SUBSCRIBE frames \(max 3\)/);
    expect(session.closed).toBe(true);
  });

  it('allows SUBSCRIBE to /private/reply only, and one pool subscription per session', () => {
    const a = setup();
    a.session.receive('CONNECT\n\n\0SUBSCRIBE\nid:0\ndestination:/topic/x\n\n\0');
    expect(a.wire.writes.at(-1)).toMatch(/^ERROR\nmessage:Access is denied to destination "\/topic\/x"/);
    expect(a.app.calls).toEqual([]);
    const b = setup();
    b.session.receive('CONNECT\n\n\0SUBSCRIBE\nid:0\ndestination:/private/reply\npoolId:p1\n\n\0');
    b.session.receive('SUBSCRIBE\nid:1\ndestination:/private/reply\npoolId:p2\n\n\0');
    expect(b.app.calls).toEqual(['sub /private/reply']);
    expect(b.wire.writes.at(-1)).toMatch(/^ERROR\nmessage:Only one pool subscription per session/);
  });

  it('caps the header block and the destination size', () => {
    const a = setup({ maxHeaderBytes: 200 });
    a.session.receive(`CONNECT\nx:${'a'.repeat(300)}\n\n\0`);
    expect(a.wire.writes[0]).toMatch(/^ERROR\nmessage:Headers too large \(max 200 bytes\)/);
    expect(a.session.connected).toBe(false);
    const b = setup({ maxHeaders: 3 });
    b.session.receive('CONNECT\na:1\nb:1\nc:1\nd:1\n\n\0');
    expect(b.wire.writes[0]).toMatch(/^ERROR\nmessage:Too many headers \(max 3\)/);
    const c = setup();
    c.session.receive(`CONNECT\n\n\0SUBSCRIBE\nid:0\ndestination:/private/reply${'x'.repeat(200)}\n\n\0`);
    expect(c.wire.writes.at(-1)).toMatch(/^ERROR\nmessage:Header "destination" too long \(max 128\)/);
  });

  it('drops a session that negotiated no heart-beat after the idle timeout', () => {
    const { wire, session } = setup({ idleTimeoutMs: 3000 });
    session.receive('CONNECT\nheart-beat:0,0\n\n\0');
    vi.advanceTimersByTime(2000);
    session.receive('\n');
    vi.advanceTimersByTime(2999);
    expect(session.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(session.closed).toBe(true);
    expect(wire.terminated).toBe(1);
  });

  it('holds at most maxSendsInFlight SENDs: later frames wait (wire paused), in order; overflow closes', async () => {
    const wire = new FakeWire();
    const pauses: string[] = [];
    const pausable: SessionWire = Object.assign(wire, {
      pause: () => pauses.push('pause'),
      resume: () => pauses.push('resume'),
    });
    const started: string[] = [];
    const finish: Array<() => void> = [];
    const app: StompApplication = {
      onSubscribe: () => undefined,
      onSend(_s, _d, _h, body) {
        started.push(body);
        return new Promise<void>((r) => finish.push(r));
      },
      onDisconnect: () => undefined,
    };
    const session = new StompSession({
      id: 's',
      ip: '10.0.0.1',
      wire: pausable,
      app,
      logger: silentLogger(),
      settings: { ...DEFAULT_SESSION_SETTINGS, maxSendsInFlight: 2, maxQueuedFrames: 3 },
      onEnded: () => undefined,
    });
    const send = (b: string) => `SEND\ndestination:/ws/signing\n\n${b}\0`;
    session.receive(`CONNECT\n\n\0${send('1')}${send('2')}${send('3')}`);
    session.receive(send('4'));
    expect(started).toEqual(['1', '2']);
    expect(session.sendsInFlight).toBe(2);
    expect(pauses).toEqual(['pause']);
    finish.shift()!();
    await flush();
    expect(started).toEqual(['1', '2', '3']);
    finish.shift()!();
    await flush();
    expect(started).toEqual(['1', '2', '3', '4']);
    expect(pauses).toEqual(['pause', 'resume']);
    // four more while two are in flight: three wait in the queue, the fourth overflows it and closes
    session.receive(`${send('5')}${send('6')}${send('7')}${send('8')}`);
    expect(session.closed).toBe(true);
    expect(wire.writes.at(-1)).toMatch(/^ERROR\nmessage:Too many messages in flight \(max 2\)/);
  });

  it('DISCONNECT with receipt: RECEIPT, then a normal close', async () => {
    const { wire, app, session } = setup();
    session.receive('CONNECT\n\n\0DISCONNECT\nreceipt:77\n\n\0SEND\ndestination:/ws/signing\n\nlate\0');
    expect(wire.writes.slice(1)).toEqual(['RECEIPT\nreceipt-id:77\n\n\0']);
    expect(wire.closes).toEqual([[1000, 'Client disconnected']]);
    await flush();
    expect(app.calls).toEqual(['disconnect true']);
  });
});
