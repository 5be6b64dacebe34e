import { describe, expect, it } from 'vitest';
import {
  SockJsClientSocket,
  sockjsInfoUrl,
  sockjsTransportUrl,
  type WebSocketLike,
} from '#shared/sockjs/client_socket.ts';

class FakeWs implements WebSocketLike {
  readonly url = 'ws://h/ws/connect/1/abc/websocket';
  readyState = 1;
  onopen: ((ev: unknown) => unknown) | null = null;
  onmessage: ((ev: { data: unknown }) => unknown) | null = null;
  onclose: ((ev: { code?: number; reason?: string; wasClean?: boolean }) => unknown) | null = null;
  onerror: ((ev: unknown) => unknown) | null = null;
  sent: string[] = [];
  closed: Array<[number | undefined, string | undefined]> = [];
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closed.push([code, reason]);
    queueMicrotask(() => this.onclose?.({ code: 1000, reason: '', wasClean: true }));
  }
  deliver(text: string): void {
    this.onmessage?.({ data: text });
  }
}

describe('sockjsTransportUrl', () => {
  it('builds ws(s)://…/{0-999}/{32 hex}/websocket like Spring', () => {
    for (let i = 0; i < 50; i++) {
      const u = sockjsTransportUrl('http://127.0.0.1:8080', '/ws/connect');
      expect(u).toMatch(/^ws:\/\/127\.0\.0\.1:8080\/ws\/connect\/(\d{1,3})\/[0-9a-f]{32}\/websocket$/);
      expect(Number(/connect\/(\d+)\//.exec(u)![1])).toBeLessThan(1000);
    }
    expect(sockjsTransportUrl('https://pool.whirl.mx:8080/', '/ws/connect')).toMatch(
      /^wss:\/\/pool\.whirl\.mx:8080\/ws\/connect\/\d+\/[0-9a-f]{32}\/websocket$/,
    );
    expect(sockjsInfoUrl('http://h:1', '/ws/connect')).toBe('http://h:1/ws/connect/info');
  });
});

describe('SockJsClientSocket', () => {
  it('opens on o, unwraps a[...], ignores h, wraps sends, closes on c[...]', async () => {
    const ws = new FakeWs();
    const s = new SockJsClientSocket(ws);
    const events: string[] = [];
    s.onopen = () => events.push('open');
    s.onmessage = (ev) => events.push(`msg:${ev.data}`);
    s.onheartbeat = () => events.push('h');
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      s.onclose = (ev) => resolve(ev);
    });
    expect(s.readyState).toBe(0);
    expect(() => s.send('x')).toThrow(/not open/);
    ws.deliver('o');
    expect(s.readyState).toBe(1);
    s.send('CONNECT\n\n\0');
    s.send(new TextEncoder().encode('\n'));
    expect(ws.sent).toEqual(['["CONNECT\\n\\n\\u0000"]', '["\\n"]']);
    ws.deliver('h');
    ws.deliver('a["CONNECTED\\n\\n\\u0000","\\n"]');
    ws.deliver('c[3000,"Go away!"]');
    expect(events).toEqual(['open', 'h', 'msg:CONNECTED\n\n\0', 'msg:\n']);
    const ev = await closed;
    expect(ev).toMatchObject({ code: 3000, reason: 'Go away!' });
    expect(s.readyState).toBe(3);
  });

  it('closes with 1002 on a malformed frame and reports the error', async () => {
    const ws = new FakeWs();
    const s = new SockJsClientSocket(ws);
    let err: unknown;
    s.onerror = (e) => {
      err = e;
    };
    const closed = new Promise<{ code: number }>((resolve) => {
      s.onclose = resolve;
    });
    ws.deliver('o');
    ws.deliver('a[garbage');
    expect(err).toBeInstanceOf(Error);
    expect((await closed).code).toBe(1002);
    expect(ws.closed[0]?.[0]).toBe(1002);
  });

  it('fires onclose once when the WebSocket drops before o', async () => {
    const ws = new FakeWs();
    const s = new SockJsClientSocket(ws);
    let n = 0;
    s.onclose = () => {
      n++;
    };
    ws.onclose?.({ code: 1006 });
    ws.onclose?.({ code: 1006 });
    expect(n).toBe(1);
    expect(s.readyState).toBe(3);
  });
});
