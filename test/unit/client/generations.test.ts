/**
 * The generation table (client/generations.ts) against the addendum's §1.2,
 * §3.4, §3.5, §6.1, §6.3 and the Java sources it cites: what each profile
 * sends, and the pure request builders.
 */
import { describe, expect, it } from 'vitest';
import {
  checkOutputDecision,
  connectHeaders,
  connectRetryDelayMs,
  DEFAULT_GENERATION,
  findUnusedIndex,
  GENERATION_IDS,
  GENERATIONS,
  generation,
  premixCount,
  registerInputBody,
  registerOutputBody,
  retriesForever,
  tx0DataCall,
  tx0NotifyCall,
  tx0PushCall,
} from '#client/generations.ts';

const G = GENERATIONS;

describe('generation table', () => {
  it('defaults to the newest generation (0.24.3)', () => {
    expect(DEFAULT_GENERATION).toBe('G6');
    expect(G.G6).toMatchObject({
      javaClient: '0.24.3',
      tx0Data: 'post-v1',
      opReturn: 'V1',
      broadcast: 'push',
      bordereau: 'random',
      sendsBlockHeight: true,
      checkOutput: 'non-fatal',
    });
  });

  it('has one profile per id, each naming the Java tag it mimics', () => {
    expect(Object.keys(G)).toEqual([...GENERATION_IDS]);
    for (const id of GENERATION_IDS) expect(G[id].id).toBe(id);
    expect(GENERATION_IDS.map((id) => G[id].javaClient)).toEqual([
      '0.23.18',
      '0.23.29',
      '0.23.39',
      '0.23.41',
      '0.23.51',
      '0.24.3',
    ]);
    expect(() => generation('G7')).toThrow(
      "Unknown client generation 'G7' (known: G0, G1-G2, G3, G4, G5, G6)",
    );
  });

  it('matches addendum §1.2 feature by feature', () => {
    const row = (id: keyof typeof G) => {
      const p = G[id];
      return [
        p.tx0Data,
        p.opReturn,
        p.broadcast,
        p.tx0Notify,
        p.checkOutput,
        p.bordereau,
        p.sendsBlockHeight,
      ];
    };
    expect(row('G0')).toEqual(['get', 'V0', 'self', 'none', 'none', 'address', false]);
    expect(row('G1-G2')).toEqual(['get', 'V0', 'self', 'txid-pool', 'fatal', 'address', false]);
    expect(row('G3')).toEqual(['post', 'V0', 'self', 'txid-pool', 'fatal', 'address', false]);
    expect(row('G4')).toEqual(['post', 'V0', 'push', 'none', 'fatal', 'address', false]);
    expect(row('G5')).toEqual(['post-v1', 'V1', 'push', 'none', 'none', 'random', true]);
    expect(row('G6')).toEqual(['post-v1', 'V1', 'push', 'none', 'non-fatal', 'random', true]);
    // poolId on CONNECT until 0.23.39; tx0MaxOutputs cap from 0.23.26; random retry from 0.23.28.
    expect(GENERATION_IDS.map((id) => G[id].connectPoolIdHeader)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(GENERATION_IDS.map((id) => G[id].capsByTx0MaxOutputs)).toEqual([
      false,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(GENERATION_IDS.map((id) => retriesForever(G[id]))).toEqual([false, true, true, true, true, true]);
    expect(GENERATION_IDS.map((id) => G[id].registerOutputAttempts)).toEqual([1, 1, 1, 1, 11, 11]);
  });
});

describe('request builders', () => {
  it('Tx0 data: GET with literal scode=null, POST bodies in Jackson order', () => {
    expect(tx0DataCall(G.G0, '0.01btc', null)).toEqual({
      method: 'GET',
      path: '/rest/tx0?poolId=0.01btc&scode=null',
      body: null,
    });
    expect(tx0DataCall(G['G1-G2'], '0.01btc', 'WELCOME').path).toBe('/rest/tx0?poolId=0.01btc&scode=WELCOME');
    const g3 = tx0DataCall(G.G3, '0.01btc', null, { partnerId: 'SPARROW' });
    expect([g3.method, g3.path, JSON.stringify(g3.body)]).toEqual([
      'POST',
      '/rest/tx0',
      '{"scode":null,"partnerId":"SPARROW"}',
    ]);
    expect(JSON.stringify(tx0DataCall(G.G4, 'p', null).body)).toBe('{"scode":null,"partnerId":"SAMOURAI"}');
    const g5 = tx0DataCall(G.G5, 'p', null);
    expect([g5.path, JSON.stringify(g5.body)]).toEqual([
      '/rest/tx0/v1',
      '{"scode":null,"partnerId":"SAMOURAI"}',
    ]);
    const g6 = tx0DataCall(G.G6, 'p', 'S');
    expect([g6.path, JSON.stringify(g6.body)]).toEqual([
      '/rest/tx0/v1',
      '{"scode":"S","partnerId":"SAMOURAI","cascading":false}',
    ]);
    expect(tx0DataCall(G.G6, 'p', null, { cascading: true }).body).toMatchObject({ cascading: true });
  });

  it('tx0Notify only after a self broadcast of G1–G3; push body', () => {
    expect(tx0NotifyCall(G.G0, 'ab', 'p')).toBeNull();
    expect(tx0NotifyCall(G.G4, 'ab', 'p')).toBeNull();
    expect(tx0NotifyCall(G['G1-G2'], 'ab', 'p')).toEqual({
      method: 'POST',
      path: '/rest/tx0Notify',
      body: { txid: 'ab', poolId: 'p' },
    });
    expect(tx0NotifyCall({ ...G['G1-G2'], tx0Notify: 'txid' }, 'ab', 'p')?.body).toEqual({ txid: 'ab' });
    expect(JSON.stringify(tx0PushCall('z85', '0.01btc').body)).toBe('{"tx64":"z85","poolId":"0.01btc"}');
  });

  it('premix count: tx0MaxOutputs caps G2+, 0 is Invalid nbPremix=0', () => {
    expect(premixCount(G.G0, 80, 600, 0)).toBe(80);
    expect(premixCount(G.G6, 80, 600, 70)).toBe(70);
    expect(premixCount(G.G6, 3, 600, 70)).toBe(3);
    expect(() => premixCount(G.G3, 80, 600, 0)).toThrow('Invalid nbPremix=0');
    expect(() => premixCount(G.G0, 0, 600, 70)).toThrow('Invalid nbPremix=0');
  });

  it('STOMP CONNECT poolId header until G3; registerInput blockHeight from G5; bordereau64 from G5', () => {
    expect(connectHeaders(G.G3, '0.01btc')).toEqual({ poolId: '0.01btc' });
    expect(connectHeaders(G.G4, '0.01btc')).toEqual({});
    const r = { poolId: 'p', utxoHash: 'aa', utxoIndex: 1, signature: 's', liquidity: false };
    expect(JSON.stringify(registerInputBody(G.G4, r, 812))).toBe(
      '{"poolId":"p","utxoHash":"aa","utxoIndex":1,"signature":"s","liquidity":false}',
    );
    expect(JSON.stringify(registerInputBody(G.G5, r, 812))).toBe(
      '{"poolId":"p","utxoHash":"aa","utxoIndex":1,"signature":"s","liquidity":false,"blockHeight":812}',
    );
    const o = { inputsHash: 'h', unblindedSignedBordereau64: 'u', receiveAddress: 'a' };
    expect(registerOutputBody(G.G4, o, null)).toEqual(o);
    expect(registerOutputBody(G.G4, o, 'ignored')).toEqual(o);
    expect(JSON.stringify(registerOutputBody(G.G6, o, 'b'))).toBe(
      '{"inputsHash":"h","unblindedSignedBordereau64":"u","receiveAddress":"a","bordereau64":"b"}',
    );
    expect(() => registerOutputBody(G.G6, o, null)).toThrow('Generation G6 needs a random bordereau');
  });

  it('checkOutput decisions: the literal text is an index fix-up, other failures fatal for G1–G4 only', () => {
    for (const id of ['G1-G2', 'G3', 'G4'] as const) {
      expect(checkOutputDecision(G[id], null, true)).toBe('ok');
      expect(checkOutputDecision(G[id], 'Output already registered', false)).toBe('index-used');
      expect(checkOutputDecision(G[id], 'Invalid signature', false)).toBe('abort');
      expect(checkOutputDecision(G[id], null, false)).toBe('abort');
    }
    expect(checkOutputDecision(G.G6, 'Invalid signature', false)).toBe('ignore');
    expect(checkOutputDecision(G.G6, 'output already registered', false)).toBe('ignore');
    expect(checkOutputDecision(G.G6, 'Output already registered', false)).toBe('index-used');
  });

  it('forward index search finds the first unused index with few probes', async () => {
    for (const firstUnused of [1, 2, 5, 17, 40, 300]) {
      const probes: number[] = [];
      const found = await findUnusedIndex(0, async (i) => {
        probes.push(i);
        return i < firstUnused;
      });
      expect(found).toBeGreaterThanOrEqual(firstUnused);
      expect(found - firstUnused).toBeLessThan(4);
      expect(probes.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(firstUnused + 1)) + 2);
    }
    await expect(findUnusedIndex(0, async () => true, 5)).rejects.toThrow('after 5 probes');
  });

  it('connect retry: fixed for G0, uniform 5–120 s (or a scaled window) from 0.23.28', () => {
    expect(connectRetryDelayMs(G.G0, 5000, 0.99)).toBe(5000);
    expect(connectRetryDelayMs(G.G6, 5000, 0)).toBe(5000);
    expect(connectRetryDelayMs(G.G6, 5000, 0.5)).toBe(62_500);
    expect(connectRetryDelayMs(G.G6, 5000, 0.999999)).toBe(119_999);
    expect(connectRetryDelayMs(G['G1-G2'], 5000, 0.5, { minMs: 50, maxMs: 1200 })).toBe(625);
  });
});
