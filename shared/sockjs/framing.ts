/**
 * SockJS protocol framing (server frames `o`, `h`, `a[...]`, `c[code,"reason"]`
 * and client messages), as spoken by Spring's SockJS server and client.
 *
 * Hand-written: the npm `sockjs` server is tied to Node's `http` module and
 * its own transports/session layer (we run SockJS transports over `ws` and
 * Hono), and `sockjs-client` is browser-only; the framing itself is a few
 * lines of JSON. Encoding quotes strings like Spring's
 * `AbstractSockJsMessageCodec` (JSON plus `\uXXXX` escapes for characters
 * some proxies and browsers mangle).
 *
 * @module
 */
import { DecodeError } from '../errors.ts';

/** Open frame, sent once when a session starts. */
export const SOCKJS_OPEN = 'o';
/** Heart-beat frame. */
export const SOCKJS_HEARTBEAT = 'h';

/** A decoded server→client SockJS frame. */
export type SockjsServerFrame =
  | { type: 'open' }
  | { type: 'heartbeat' }
  | { type: 'messages'; messages: string[] }
  | { type: 'close'; code: number; reason: string };

// Characters Spring escapes on top of JSON (AbstractSockJsMessageCodec.escapeSockJsSpecialChars),
// plus lone surrogates, which JSON.stringify already escapes.
const SPECIAL_RE = /[\u200c-\u200f\u2028-\u202f\u2060-\u206f\ufff0-\uffff]/g;

/** JSON-quotes one string the way SockJS servers do. */
export function sockjsQuote(text: string): string {
  return JSON.stringify(text).replace(
    SPECIAL_RE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `a[...]`: a message frame carrying the given strings (each a whole STOMP frame here). */
export function sockjsMessageFrame(messages: string[]): string {
  return `a[${messages.map(sockjsQuote).join(',')}]`;
}

/** `c[code,"reason"]`: the close frame. */
export function sockjsCloseFrame(code: number, reason: string): string {
  return `c[${Math.trunc(code)},${sockjsQuote(reason)}]`;
}

/** JSON array of strings, as a SockJS client sends its messages. */
export function sockjsClientMessage(messages: string[]): string {
  return `[${messages.map(sockjsQuote).join(',')}]`;
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DecodeError('sockjs', `Malformed JSON: ${(err as Error).message}`, { cause: err });
  }
}

function stringArray(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new DecodeError('sockjs', `${what} is not a JSON array`);
  for (const v of value) {
    if (typeof v !== 'string') throw new DecodeError('sockjs', `${what} holds a non-string element`);
  }
  return value as string[];
}

/** Decodes one server frame (a trailing `\n`, as on XHR transports, is allowed). Throws {@link DecodeError}. */
export function decodeSockjsServerFrame(text: string): SockjsServerFrame {
  if (typeof text !== 'string') throw new DecodeError('sockjs', 'Frame is not text');
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (t === SOCKJS_OPEN) return { type: 'open' };
  if (t === SOCKJS_HEARTBEAT) return { type: 'heartbeat' };
  const kind = t[0];
  if (kind === 'a')
    return { type: 'messages', messages: stringArray(parseJsonText(t.slice(1)), 'Message frame') };
  if (kind === 'c') {
    const v = parseJsonText(t.slice(1));
    if (!Array.isArray(v) || v.length !== 2 || !Number.isInteger(v[0]) || typeof v[1] !== 'string') {
      throw new DecodeError('sockjs', 'Close frame is not [code, "reason"]');
    }
    return { type: 'close', code: v[0] as number, reason: v[1] as string };
  }
  throw new DecodeError('sockjs', `Unknown frame type "${t.slice(0, 10)}"`);
}

/**
 * Decodes what a SockJS client sent: a JSON array of strings, or a single
 * JSON string (Spring accepts both). Empty or blank input yields no message.
 * Throws {@link DecodeError}.
 */
export function decodeSockjsClientMessage(text: string): string[] {
  if (typeof text !== 'string') throw new DecodeError('sockjs', 'Message is not text');
  if (text.trim() === '') return [];
  const v = parseJsonText(text);
  if (typeof v === 'string') return [v];
  return stringArray(v, 'Client message');
}
