/**
 * STOMP 1.2 frame model and encoder.
 *
 * Hand-written because no maintained STOMP 1.2 *server* codec exists for
 * JavaScript: the npm STOMP packages are clients (`@stomp/stompjs`,
 * `stompit`, `webstomp-client`) or stale brokers whose readers mistake a
 * single byte for a heart-beat (`stomp-protocol`) or speak 1.1 over `ws` 5
 * (`stomp-broker-js`). The encoder follows Spring's `StompEncoder`: header
 * names and values are escaped (`\\`, `\n`, `\r`, `\c`) in every frame
 * except CONNECT and CONNECTED, where STOMP 1.2 forbids escaping.
 *
 * @module
 */

/** One STOMP frame. Headers keep wire order and duplicates (the first occurrence wins). */
export interface StompFrame {
  command: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Value of the first header named `name`, or undefined (STOMP 1.2: repeated headers, first wins). */
export function getHeader(frame: StompFrame, name: string): string | undefined {
  for (const [k, v] of frame.headers) {
    if (k === name) return v;
  }
  return undefined;
}

/** True for the two commands whose headers are never escaped (STOMP 1.2 §"Value Encoding"). */
export function isUnescapedCommand(command: string): boolean {
  return command === 'CONNECT' || command === 'CONNECTED';
}

/** Escapes a header name or value for STOMP 1.2. */
export function escapeHeader(text: string): string {
  if (!/[\\\n\r:]/.test(text)) return text;
  let out = '';
  for (const ch of text) {
    if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === ':') out += '\\c';
    else out += ch;
  }
  return out;
}

/**
 * Serialises a frame: `COMMAND\n`, `name:value\n` per header, a blank line,
 * the body and NUL. With `contentLength: true` a `content-length` header is
 * appended unless the frame already has one; it is also appended whenever the
 * body contains a NUL byte, since the frame could not be read back otherwise.
 */
export function encodeFrame(frame: StompFrame, opts?: { contentLength?: boolean }): Uint8Array {
  const escaping = !isUnescapedCommand(frame.command);
  let head = frame.command + '\n';
  for (const [k, v] of frame.headers) {
    head += escaping ? `${escapeHeader(k)}:${escapeHeader(v)}\n` : `${k}:${v}\n`;
  }
  const needLength = opts?.contentLength === true || frame.body.includes(0);
  if (needLength && getHeader(frame, 'content-length') === undefined) {
    head += `content-length:${frame.body.length}\n`;
  }
  head += '\n';
  const headBytes = utf8.encode(head);
  const out = new Uint8Array(headBytes.length + frame.body.length + 1);
  out.set(headBytes, 0);
  out.set(frame.body, headBytes.length);
  out[out.length - 1] = 0;
  return out;
}

/** The encoded frame as a string (UTF-8 decoded {@link encodeFrame}), for text WebSocket messages. */
export function frameToString(frame: StompFrame, opts?: { contentLength?: boolean }): string {
  return utf8Decoder.decode(encodeFrame(frame, opts));
}

/** Builds a frame from a command, header pairs and a string (UTF-8) or byte body. */
export function makeFrame(
  command: string,
  headers: Array<[string, string]>,
  body: string | Uint8Array = new Uint8Array(0),
): StompFrame {
  return { command, headers, body: typeof body === 'string' ? utf8.encode(body) : body };
}

/** The body decoded as UTF-8 (invalid sequences become U+FFFD). */
export function bodyText(frame: StompFrame): string {
  return utf8Decoder.decode(frame.body);
}
