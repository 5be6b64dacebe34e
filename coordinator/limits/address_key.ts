/**
 * The key under which per-address limits count a client: an IPv4 address as
 * is (an IPv4-mapped IPv6 address `::ffff:a.b.c.d` as its IPv4 form), an
 * IPv6 address by its /64 prefix (one subscriber usually holds a whole /64,
 * so counting single IPv6 addresses would let one client spread over 2^64
 * of them).
 *
 * @module
 */
import { isIP } from 'node:net';

/** Expands an IPv6 address to its eight 16-bit groups (null when malformed). */
function ipv6Groups(ip: string): number[] | null {
  const zoneless = ip.split('%')[0] ?? ip;
  let head = zoneless;
  let tail = '';
  const dbl = zoneless.indexOf('::');
  if (dbl >= 0) {
    head = zoneless.slice(0, dbl);
    tail = zoneless.slice(dbl + 2);
  }
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const b = g.split('.').map(Number);
        out.push(((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0));
      } else out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const h = parse(head);
  const t = parse(tail);
  const fill = 8 - h.length - t.length;
  if (fill < 0 || (dbl < 0 && fill !== 0)) return null;
  return [...h, ...new Array<number>(fill).fill(0), ...t];
}

/** The per-address limit key of a remote address (see module doc); '' stays ''. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const g = ipv6Groups(ip);
  if (!g) return ip;
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(':')}::/64`;
}
