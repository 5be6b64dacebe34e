/**
 * STOMP heart-beat header parsing and negotiation (STOMP 1.2 §"Heart-beating").
 *
 * A peer's `heart-beat:x,y` means "I can send every x ms" and "I want to
 * receive every y ms" (0 = never). Hand-written: these two functions are all
 * a server needs and no server-side STOMP library exists (see `frame.ts`).
 *
 * @module
 */
import { DecodeError } from '../errors.ts';

/** Parses `heart-beat` (`"cx,cy"`); an absent header means `[0, 0]`. Throws {@link DecodeError}. */
export function parseHeartbeatHeader(v: string | undefined): [number, number] {
  if (v === undefined) return [0, 0];
  const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(v);
  if (!m) throw new DecodeError('stomp', `Invalid heart-beat header "${v.slice(0, 40)}"`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * Effective intervals on the server side, from the client's CONNECT value
 * `[cx, cy]` and the server's `[sx, sy]`: the server sends every
 * `max(sx, cy)` ms and expects a byte every `max(cx, sy)` ms; a direction is
 * off (0) when either side says 0.
 */
export function negotiateHeartbeat(
  client: [number, number],
  server: [number, number],
): { sendEveryMs: number; expectEveryMs: number } {
  const [cx, cy] = client;
  const [sx, sy] = server;
  return {
    sendEveryMs: sx === 0 || cy === 0 ? 0 : Math.max(sx, cy),
    expectEveryMs: cx === 0 || sy === 0 ? 0 : Math.max(cx, sy),
  };
}
