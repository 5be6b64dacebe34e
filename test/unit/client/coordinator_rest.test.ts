/** REST client: URLs like the Java client, zod-validated answers, typed HTTP errors, separate registerOutput fetch. */
import { describe, expect, it } from 'vitest';
import { CoordinatorRest, CoordinatorRestError } from '#client/rest/coordinator_rest.ts';

type Call = { url: string; init: RequestInit | undefined };

function fakeFetch(calls: Call[], status: number, body: string): typeof fetch {
  return (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init });
    return new Response(body, { status });
  }) as typeof fetch;
}

const POOL = {
  poolId: '0.01btc',
  denomination: 1_000_000,
  feeValue: 50_000,
  mustMixBalanceMin: 1_000_102,
  mustMixBalanceCap: 1_009_500,
  mustMixBalanceMax: 1_010_000,
  minAnonymitySet: 5,
  minMustMix: 1,
  nbRegistered: 0,
  mixAnonymitySet: 5,
  mixStatus: 'CONFIRM_INPUT',
  elapsedTime: 1,
  nbConfirmed: 0,
};

describe('CoordinatorRest', () => {
  it('lists pools by denomination descending', async () => {
    const calls: Call[] = [];
    const small = { ...POOL, poolId: '0.001btc', denomination: 100_000 };
    const rest = new CoordinatorRest({
      serverUrl: 'http://c:8080/',
      fetch: fakeFetch(calls, 200, JSON.stringify({ pools: [small, POOL] })),
    });
    expect((await rest.pools()).map((p) => p.poolId)).toEqual(['0.01btc', '0.001btc']);
    expect(calls[0]!.url).toBe('http://c:8080/rest/pools');
    expect(new Headers(calls[0]!.init?.headers).get('user-agent')).toBe('whirlpool-client/0.23');
  });

  it('appends scode as is, or the literal null like the Java client', async () => {
    const calls: Call[] = [];
    const body = JSON.stringify({
      feePaymentCode:
        'PM8TJXp19gCE6hQzqRi719FGJzF6AreRwvoQKLRnQ7dpgaakakFns22jHUqhtPQWmfevPQRCyfFbdDrKvrfw9oZv5PjaCerQMa3BKkPyUf9yN1CDR3w6',
      feeValue: 0,
      feeChange: 12_500,
      feeDiscountPercent: 100,
      message: 'welcome',
      feePayload64: 'fGx',
      feeAddress: null,
      feeIndice: 0,
    });
    const rest = new CoordinatorRest({ serverUrl: 'http://c', fetch: fakeFetch(calls, 200, body) });
    await rest.tx0Data('0.01btc');
    await rest.tx0Data('0.01btc', 'WELCOME');
    expect(calls.map((c) => c.url)).toEqual([
      'http://c/rest/tx0?poolId=0.01btc&scode=null',
      'http://c/rest/tx0?poolId=0.01btc&scode=WELCOME',
    ]);
    expect((await rest.tx0Data('x')).feeChange).toBe(12_500);
  });

  it('refuses an answer that fails the schema', async () => {
    const rest = new CoordinatorRest({
      serverUrl: 'http://c',
      fetch: fakeFetch([], 200, '{"pools":[{"poolId":1}]}'),
    });
    await expect(rest.pools()).rejects.toThrow(/not a valid PoolsResponse/);
    const notJson = new CoordinatorRest({ serverUrl: 'http://c', fetch: fakeFetch([], 200, '<html>') });
    await expect(notJson.pools()).rejects.toThrow(/is not JSON/);
  });

  it('turns an HTTP error into CoordinatorRestError with the server message', async () => {
    const rest = new CoordinatorRest({
      serverUrl: 'http://c',
      fetch: fakeFetch([], 500, '{"message":"Pool not found"}'),
    });
    const err = (await rest.tx0Data('nope').catch((e: unknown) => e)) as CoordinatorRestError;
    expect(err).toBeInstanceOf(CoordinatorRestError);
    expect(err).toMatchObject({
      status: 500,
      serverMessage: 'Pool not found',
      url: 'http://c/rest/tx0?poolId=nope&scode=null',
    });
    expect(err.message).toContain('Pool not found');
    const empty = new CoordinatorRest({ serverUrl: 'http://c', fetch: fakeFetch([], 400, '') });
    await expect(empty.pools()).rejects.toMatchObject({ status: 400, serverMessage: null });
  });

  it('posts registerOutput through its own fetch and accepts an empty 200', async () => {
    const main: Call[] = [];
    const other: Call[] = [];
    const rest = new CoordinatorRest({
      serverUrl: 'http://c',
      fetch: fakeFetch(main, 200, '{}'),
      registerOutputFetch: fakeFetch(other, 200, ''),
    });
    const req = {
      inputsHash: 'a'.repeat(128),
      unblindedSignedBordereau64: 'x',
      receiveAddress: 'bcrt1qabcabcabcabcabc',
    };
    await rest.registerOutput(req);
    expect(main).toHaveLength(0);
    expect(other[0]!.url).toBe('http://c/rest/registerOutput');
    expect(other[0]!.init?.method).toBe('POST');
    expect(JSON.parse(String(other[0]!.init?.body))).toEqual(req);
    expect(new Headers(other[0]!.init?.headers).get('content-type')).toBe('application/json');
  });

  it('reports a transport failure with status null', async () => {
    const rest = new CoordinatorRest({
      serverUrl: 'http://c',
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    });
    await expect(rest.pools()).rejects.toMatchObject({ status: null, serverMessage: null });
  });
});
