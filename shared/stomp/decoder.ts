/**
 * Incremental STOMP 1.2 decoder (Spring's `BufferingStompDecoder` semantics).
 *
 * Hand-written for the reasons given in `frame.ts`. Bytes go in as they
 * arrive (text or binary WebSocket messages, SockJS strings, XHR bodies);
 * complete frames and heart-beats come out. Rules:
 *
 * - a frame is `COMMAND EOL (header EOL)* EOL body NUL`, EOL being `\n` or
 *   `\r\n`; a bare EOL between frames is a heart-beat;
 * - frames may be split across chunks or batched within one chunk;
 * - with `content-length` the body is exactly that many bytes (it may contain
 *   NUL) and must be followed by NUL; without it the body ends at the first NUL;
 * - header names and values are unescaped (`\\`, `\n`, `\r`, `\c`) except in
 *   CONNECT and CONNECTED frames; any other escape is refused;
 * - repeated headers are all kept in order ({@link getHeader} returns the first);
 * - a frame larger than `maxFrameBytes` (command through NUL, default 65536)
 *   is refused as soon as that is known, so a peer cannot make us buffer more.
 *
 * Every failure throws {@link DecodeError} (codec `stomp`); after one, the
 * decoder is unusable (the connection must be closed).
 *
 * @module
 */
import { DecodeError } from '../errors.ts';
import { isUnescapedCommand, type StompFrame } from './frame.ts';

/** One decoded item: a frame or a heart-beat (bare EOL). */
export type StompItem = { type: 'frame'; frame: StompFrame } | { type: 'heartbeat' };

/** Default maximum frame size in bytes (Spring's 64 KiB STOMP message limit). */
export const DEFAULT_MAX_FRAME_BYTES = 65536;

const LF = 10;
const CR = 13;
const NUL = 0;
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const COMMAND_RE = /^[A-Z]{1,32}$/;

/** A frame head parsed while its body is still arriving. */
interface PendingHead {
  command: string;
  headers: Array<[string, string]>;
  contentLength: number | undefined;
  /** Offset of the body, relative to the frame start. */
  bodyStart: number;
}

/** Undoes STOMP 1.2 header escaping; throws on an undefined escape. */
export function unescapeHeader(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = text[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === 'r') out += '\r';
    else if (next === 'c') out += ':';
    else throw new DecodeError('stomp', `Undefined escape sequence "\\${next ?? ''}" in header`);
  }
  return out;
}

/** Streaming STOMP decoder; see the module comment for the rules. */
export class StompDecoder {
  readonly maxFrameBytes: number;
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  #failed = false;
  /** Head lines of the frame being read. */
  #lines: string[] = [];
  /** Start of the current head line, relative to `#start`. */
  #lineStart = 0;
  /** Where the next LF/NUL search resumes, relative to `#start`. */
  #scan = 0;
  /** Parsed head of the frame whose body is awaited. */
  #head: PendingHead | null = null;

  constructor(opts?: { maxFrameBytes?: number }) {
    this.maxFrameBytes = opts?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Number of bytes buffered for an incomplete frame. */
  get bufferedBytes(): number {
    return this.#end - this.#start;
  }

  /** Feeds a chunk; returns every item completed by it. Throws {@link DecodeError} on malformed input. */
  push(chunk: Uint8Array | string): StompItem[] {
    if (this.#failed) throw new DecodeError('stomp', 'Decoder already failed');
    const bytes = typeof chunk === 'string' ? utf8.encode(chunk) : chunk;
    this.#append(bytes);
    const items: StompItem[] = [];
    try {
      for (;;) {
        const item = this.#next();
        if (item === null) break;
        items.push(item);
      }
    } catch (err) {
      this.#failed = true;
      this.#buf = EMPTY;
      this.#start = this.#end = 0;
      this.#lines = [];
      this.#head = null;
      if (err instanceof DecodeError) throw err;
      throw new DecodeError('stomp', `Malformed frame: ${(err as Error).message}`, { cause: err });
    }
    if (this.#start === this.#end) {
      // Drop the buffer between frames so idle sessions hold no memory.
      this.#buf = EMPTY;
      this.#start = this.#end = 0;
    }
    return items;
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#start === this.#end && this.#buf.length === 0) {
      // Common case: nothing buffered, parse straight from the chunk (copy so the caller may reuse it).
      this.#buf = bytes.slice();
      this.#start = 0;
      this.#end = bytes.length;
      return;
    }
    const used = this.#end - this.#start;
    if (this.#end + bytes.length <= this.#buf.length) {
      this.#buf.set(bytes, this.#end);
      this.#end += bytes.length;
      return;
    }
    const cap = Math.max(used + bytes.length, Math.min(this.#buf.length * 2, this.maxFrameBytes + 4096));
    const next = new Uint8Array(Math.max(cap, used + bytes.length));
    next.set(this.#buf.subarray(this.#start, this.#end), 0);
    next.set(bytes, used);
    this.#buf = next;
    this.#start = 0;
    this.#end = used + bytes.length;
  }

  /**
   * Parses one item from the buffer, or returns null when more bytes are
   * needed. Scanning resumes where the previous call stopped (head lines
   * already parsed are kept), so a frame trickled in byte by byte costs
   * linear, not quadratic, time. Offsets are relative to `#start`.
   */
  #next(): StompItem | null {
    const buf = this.#buf;
    const start = this.#start;
    const end = this.#end;
    if (start >= end) return null;
    const max = this.maxFrameBytes;
    if (this.#head === null) {
      if (this.#lines.length === 0 && this.#lineStart === 0) {
        // Heart-beat: a bare EOL between frames.
        if (buf[start] === LF) {
          this.#start = start + 1;
          return { type: 'heartbeat' };
        }
        if (buf[start] === CR) {
          if (start + 1 >= end) return null;
          if (buf[start + 1] !== LF) throw new DecodeError('stomp', 'CR not followed by LF');
          this.#start = start + 2;
          return { type: 'heartbeat' };
        }
      }
      // Frame head: command line and headers up to the blank line.
      const limit = Math.min(end, start + max);
      for (;;) {
        const lf = buf.indexOf(LF, start + this.#scan);
        if (lf < 0 || lf >= limit) {
          if (end - start >= max) this.#tooLarge();
          this.#scan = end - start;
          return null;
        }
        const lineStart = start + this.#lineStart;
        let lineEnd = lf;
        if (lineEnd > lineStart && buf[lineEnd - 1] === CR) lineEnd--;
        this.#lineStart = this.#scan = lf + 1 - start;
        if (lineEnd === lineStart && this.#lines.length > 0) break;
        this.#lines.push(this.#text(buf.subarray(lineStart, lineEnd)));
      }
      this.#head = this.#parseHead(this.#lines, this.#scan);
    }
    // Body.
    const head = this.#head;
    const bodyStart = start + head.bodyStart;
    let bodyEnd: number;
    if (head.contentLength !== undefined) {
      if (head.bodyStart + head.contentLength + 1 > max) this.#tooLarge();
      if (end < bodyStart + head.contentLength + 1) return null;
      bodyEnd = bodyStart + head.contentLength;
      if (buf[bodyEnd] !== NUL)
        throw new DecodeError('stomp', 'Frame body not terminated by NUL after content-length');
    } else {
      const nul = buf.indexOf(NUL, start + this.#scan);
      if (nul < 0 || nul >= end || nul >= start + max) {
        if (end - start >= max) this.#tooLarge();
        this.#scan = end - start;
        return null;
      }
      bodyEnd = nul;
    }
    const frame: StompFrame = {
      command: head.command,
      headers: head.headers,
      body: buf.slice(bodyStart, bodyEnd),
    };
    this.#start = bodyEnd + 1;
    this.#head = null;
    this.#lines = [];
    this.#lineStart = this.#scan = 0;
    return { type: 'frame', frame };
  }

  /** Validates the command and decodes the headers of a complete frame head. */
  #parseHead(lines: string[], bodyStart: number): PendingHead {
    const command = lines[0] as string;
    if (!COMMAND_RE.test(command)) {
      throw new DecodeError('stomp', `Invalid command "${command.slice(0, 40)}"`);
    }
    const escaped = !isUnescapedCommand(command);
    const headers: Array<[string, string]> = [];
    let contentLength: number | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new DecodeError('stomp', `Illegal header "${line.slice(0, 40)}"`);
      const rawName = line.slice(0, colon);
      const rawValue = line.slice(colon + 1);
      const name = escaped ? unescapeHeader(rawName) : rawName;
      const value = escaped ? unescapeHeader(rawValue) : rawValue;
      if (name === 'content-length' && contentLength === undefined) {
        if (!/^\d{1,10}$/.test(value))
          throw new DecodeError('stomp', `Invalid content-length "${value.slice(0, 20)}"`);
        contentLength = Number(value);
      }
      headers.push([name, value]);
    }
    return { command, headers, contentLength, bodyStart };
  }

  #text(bytes: Uint8Array): string {
    try {
      return utf8Strict.decode(bytes);
    } catch (err) {
      throw new DecodeError('stomp', 'Frame head is not valid UTF-8', { cause: err });
    }
  }

  #tooLarge(): never {
    throw new DecodeError('stomp', `Frame larger than ${this.maxFrameBytes} bytes`);
  }
}
