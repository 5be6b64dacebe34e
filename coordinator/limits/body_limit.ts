/**
 * Request body limits of the client-facing HTTP listener: which limit a
 * route has ({@link bodyLimitFor}: a few KiB for registerOutput/checkOutput,
 * ~1 KiB for the dashboard's forms, more for the Tx0 endpoints that carry a
 * transaction, a default for the rest), and the reading of a body without a
 * `Content-Length` (chunked) that stops at the limit instead of buffering
 * whatever is sent ({@link readBodyWithin}). The SockJS routes (`/ws/*`) keep
 * their own limit, derived from the STOMP frame size.
 *
 * @module
 */

/** The byte limits per route family. */
export interface BodyLimits {
  output: number;
  tx0: number;
  dashboard: number;
  default: number;
}

/** The body limit of a request to `path` (bytes). */
export function bodyLimitFor(path: string, limits: BodyLimits): number {
  if (path === '/rest/registerOutput' || path === '/rest/checkOutput') return limits.output;
  if (path === '/rest/tx0' || path.startsWith('/rest/tx0/')) return limits.tx0;
  if (path === '/dashboard' || path.startsWith('/dashboard/')) return limits.dashboard;
  return limits.default;
}

/** What {@link checkDeclaredLength} decides from the headers alone. */
export type DeclaredLength = 'within' | 'too-large' | 'unknown';

/** Decides from `Content-Length` (ignored with `Transfer-Encoding`, as HTTP/1.1 says). */
export function checkDeclaredLength(headers: Headers, max: number): DeclaredLength {
  const cl = headers.get('content-length');
  if (cl === null || headers.has('transfer-encoding')) return 'unknown';
  const n = Number(cl);
  if (!Number.isSafeInteger(n) || n < 0) return 'too-large';
  return n > max ? 'too-large' : 'within';
}

/**
 * Reads the body of `req` up to `max` bytes: a copy of the request with the
 * buffered body, or null as soon as more than `max` bytes arrived (the rest
 * is not read).
 */
export async function readBodyWithin(req: Request, max: number): Promise<Request | null> {
  if (!req.body) return req;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return new Request(req, { body });
}

/**
 * The 413 answer: `{"message":"Request body too large"}` (the text the Tx0
 * routes' own limits answer) and the limit in `X-Body-Limit`. The HTTP
 * server closes the connection after a short lingering drain (the rest of
 * the body is never buffered).
 */
export function payloadTooLarge(max: number): Response {
  return new Response(JSON.stringify({ message: 'Request body too large' }), {
    status: 413,
    headers: { 'Content-Type': 'application/json', 'X-Body-Limit': String(max) },
  });
}
