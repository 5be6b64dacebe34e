/**
 * Client generations of the Whirlpool "0.23" protocol (addendum
 * `whirlpool-protocol-0.23-generations.md` §1.2, §10.2, §11): one table of
 * what each generation of the Java whirlpool-client puts on the wire, and pure
 * functions turning a profile into the exact requests (paths, JSON bodies in
 * Jackson's field order, STOMP headers). The reference client speaks
 * {@link DEFAULT_GENERATION} (the newest) and can behave exactly like any
 * older one; every generation-dependent decision of `client/` reads this
 * module, so the differences live here and nowhere else.
 *
 * Each profile names the Java release it mimics (the tag read):
 *
 * | id | mimics | Tx0 data | OP_RETURN | broadcast | checkOutput | bordereau | blockHeight | CONNECT poolId |
 * |---|---|---|---|---|---|---|---|---|
 * | G0 | 0.23.18 (CLI ≤ 0.10.9) | GET /rest/tx0 | V0 (client payload) | self | – | address | – | yes |
 * | G1-G2 | 0.23.29 (CLI 0.10.11) | GET, premixes ≤ tx0MaxOutputs | V0 (client) | self + tx0Notify {txid,poolId} | fatal | address | – | yes |
 * | G3 | 0.23.39 (CLI 0.10.15, Sparrow) | POST /rest/tx0 | V0 (server payload) | self + tx0Notify | fatal | address | – | yes |
 * | G4 | 0.23.41 (Android 2022) | POST /rest/tx0 | V0 (server) | POST /rest/tx0/push | fatal | address | – | no |
 * | G5 | 0.23.51 (CLI 0.10.17.1) | POST /rest/tx0/v1 | V1 | push | – (backend "seen") | random 30 B | yes | no |
 * | G6 | 0.24.3 (Android 0.99.98f–g) | POST /rest/tx0/v1 + cascading | V1 | push | non-fatal | random 30 B | yes | no |
 *
 * @module
 */
import {
  HEADER_POOL_ID,
  PARTNER_ID_SAMOURAI,
  REST_CHECK_OUTPUT,
  REST_TX0,
  REST_TX0_NOTIFY,
  REST_TX0_PUSH,
  REST_TX0_V1,
} from '#shared/protocol/constants.ts';

/** The generations a client can behave as (addendum §1.2; G1 and G2 share one profile). */
export const GENERATION_IDS = ['G0', 'G1-G2', 'G3', 'G4', 'G5', 'G6'] as const;
/** One of {@link GENERATION_IDS}. */
export type GenerationId = (typeof GENERATION_IDS)[number];

/** What one client generation sends. Pure data. */
export interface GenerationProfile {
  id: GenerationId;
  /** The whirlpool-client tag this profile mimics, and where it shipped. */
  javaClient: string;
  shippedIn: string;
  /** `GET /rest/tx0` (G0–G2), `POST /rest/tx0` (G3–G4), `POST /rest/tx0/v1` (G5–G6). */
  tx0Data: 'get' | 'post' | 'post-v1';
  /** `cascading` key in the Tx0 data body (G6 always writes it: Jackson serialises the boolean). */
  sendsCascading: boolean;
  /** Fee OP_RETURN format: 64 bytes masked with input 0 (V0) or 80 bytes with an embedded masking key (V1). */
  opReturn: 'V0' | 'V1';
  /** How the Tx0 reaches the network. */
  broadcast: 'self' | 'push';
  /** `POST /rest/tx0Notify` after a self broadcast: none, `{txid}` (G1) or `{txid, poolId}` (G2–G3). */
  tx0Notify: 'none' | 'txid' | 'txid-pool';
  /** Premix count capped by `PoolInfo.tx0MaxOutputs` (G2+; 0 ⇒ `Invalid nbPremix=0`). */
  capsByTx0MaxOutputs: boolean;
  /** `POST /rest/checkOutput` when the wallet opens/starts: any failure other than `Output already registered` is fatal (G1–G4) or ignored (G5a, G6). */
  checkOutput: 'none' | 'fatal' | 'non-fatal';
  /** checkOutput again after every failed mix attempt (0.24.3 `onMixFail`). */
  checkOutputAfterMixFail: boolean;
  /** STOMP CONNECT carries a `poolId` header (≤ 0.23.39 and nightjar). */
  connectPoolIdHeader: boolean;
  /** What the blind signature covers: the receive address bytes, or 30 random bytes sent as `bordereau64`. */
  bordereau: 'address' | 'random';
  /** `RegisterInputRequest.blockHeight` (chain tip of the wallet backend). */
  sendsBlockHeight: boolean;
  /** registerOutput posts per mix: 1, or 11 (0.23.42+: 10 retries, next receive address each, same bordereau). */
  registerOutputAttempts: number;
  /** Retry after a failed connect: fixed delay (spec §9.4), or random 5–120 s forever (0.23.28+). */
  connectRetry: 'fixed' | 'random-5-120s';
  /** Tx0 attempts on a push answered with `voutsAddressReuse` (0.23.40+ `tx0MaxRetry`). */
  tx0PushAttempts: number;
}

const G0: GenerationProfile = {
  id: 'G0',
  javaClient: '0.23.18',
  shippedIn: 'CLI 0.10.0–0.10.9 (2019–2020)',
  tx0Data: 'get',
  sendsCascading: false,
  opReturn: 'V0',
  broadcast: 'self',
  tx0Notify: 'none',
  capsByTx0MaxOutputs: false,
  checkOutput: 'none',
  checkOutputAfterMixFail: false,
  connectPoolIdHeader: true,
  bordereau: 'address',
  sendsBlockHeight: false,
  registerOutputAttempts: 1,
  connectRetry: 'fixed',
  tx0PushAttempts: 1,
};

/** Every profile, keyed by id. */
export const GENERATIONS: Readonly<Record<GenerationId, GenerationProfile>> = {
  G0,
  'G1-G2': {
    ...G0,
    id: 'G1-G2',
    javaClient: '0.23.29',
    shippedIn: 'CLI 0.10.10–0.10.11 (2021)',
    tx0Notify: 'txid-pool',
    capsByTx0MaxOutputs: true,
    checkOutput: 'fatal',
    connectRetry: 'random-5-120s',
  },
  G3: {
    ...G0,
    id: 'G3',
    javaClient: '0.23.39',
    shippedIn: 'CLI 0.10.12–0.10.15, Sparrow 1.5.0–1.8.4 (nightjar), Ashigaru Terminal',
    tx0Data: 'post',
    tx0Notify: 'txid-pool',
    capsByTx0MaxOutputs: true,
    checkOutput: 'fatal',
    connectRetry: 'random-5-120s',
  },
  G4: {
    ...G0,
    id: 'G4',
    javaClient: '0.23.41',
    shippedIn: 'Samourai Android (2022)',
    tx0Data: 'post',
    broadcast: 'push',
    capsByTx0MaxOutputs: true,
    checkOutput: 'fatal',
    connectPoolIdHeader: false,
    connectRetry: 'random-5-120s',
    tx0PushAttempts: 5,
  },
  G5: {
    ...G0,
    id: 'G5',
    javaClient: '0.23.51',
    shippedIn: 'CLI 0.10.16–0.10.17.1',
    tx0Data: 'post-v1',
    opReturn: 'V1',
    broadcast: 'push',
    capsByTx0MaxOutputs: true,
    connectPoolIdHeader: false,
    bordereau: 'random',
    sendsBlockHeight: true,
    registerOutputAttempts: 11,
    connectRetry: 'random-5-120s',
    tx0PushAttempts: 5,
  },
  G6: {
    ...G0,
    id: 'G6',
    javaClient: '0.24.3',
    shippedIn: 'Samourai Android 0.99.98f–g',
    tx0Data: 'post-v1',
    sendsCascading: true,
    opReturn: 'V1',
    broadcast: 'push',
    capsByTx0MaxOutputs: true,
    checkOutput: 'non-fatal',
    checkOutputAfterMixFail: true,
    connectPoolIdHeader: false,
    bordereau: 'random',
    sendsBlockHeight: true,
    registerOutputAttempts: 11,
    connectRetry: 'random-5-120s',
    tx0PushAttempts: 5,
  },
};

/** The generation the reference client speaks unless told otherwise: the newest (0.24.3). */
export const DEFAULT_GENERATION: GenerationId = 'G6';

/** Bytes of a random bordereau (0.23.42+ `ClientUtils.BORDEREAU_LENGTH`). */
export const BORDEREAU_LENGTH = 30;
/** Java 0.23.28+ connect retry window: a random delay in [5 s, 120 s] after a failed connect. */
export const RANDOM_RETRY_MIN_MS = 5_000;
export const RANDOM_RETRY_MAX_MS = 120_000;

/** The profile of `id`; throws on an unknown id (with the known ones). */
export function generation(id: string): GenerationProfile {
  const p = (GENERATIONS as Record<string, GenerationProfile>)[id];
  if (!p) throw new RangeError(`Unknown client generation '${id}' (known: ${GENERATION_IDS.join(', ')})`);
  return p;
}

/** A REST request as the generation sends it: method, path (with query) and JSON body (or none). */
export interface RestCall {
  method: 'GET' | 'POST';
  path: string;
  body: Record<string, unknown> | null;
}

/**
 * The Tx0 data request: `GET /rest/tx0?poolId=<p>&scode=<s|null>` (G0–G2,
 * literal `null` like 0.23.18), or the `Tx0DataRequestV2` body in Jackson's
 * field order `{scode, partnerId[, cascading]}`.
 */
export function tx0DataCall(
  p: GenerationProfile,
  poolId: string,
  scode: string | null,
  opts: { partnerId?: string; cascading?: boolean } = {},
): RestCall {
  if (p.tx0Data === 'get') {
    return {
      method: 'GET',
      path: `${REST_TX0}?poolId=${encodeURIComponent(poolId)}&scode=${scode === null ? 'null' : encodeURIComponent(scode)}`,
      body: null,
    };
  }
  const body: Record<string, unknown> = { scode, partnerId: opts.partnerId ?? PARTNER_ID_SAMOURAI };
  if (p.sendsCascading) body.cascading = opts.cascading ?? false;
  return { method: 'POST', path: p.tx0Data === 'post' ? REST_TX0 : REST_TX0_V1, body };
}

/** The `POST /rest/tx0Notify` a generation sends after broadcasting its Tx0 itself, or null. */
export function tx0NotifyCall(p: GenerationProfile, txid: string, poolId: string): RestCall | null {
  if (p.broadcast !== 'self' || p.tx0Notify === 'none') return null;
  const body: Record<string, unknown> = p.tx0Notify === 'txid' ? { txid } : { txid, poolId };
  return { method: 'POST', path: REST_TX0_NOTIFY, body };
}

/** `POST /rest/tx0/push {tx64, poolId}` (`tx64` is Z85 of the signed Tx0). */
export function tx0PushCall(tx64: string, poolId: string): RestCall {
  return { method: 'POST', path: REST_TX0_PUSH, body: { tx64, poolId } };
}

/** `POST /rest/checkOutput {receiveAddress, signature}`. */
export function checkOutputCall(receiveAddress: string, signature: string): RestCall {
  return { method: 'POST', path: REST_CHECK_OUTPUT, body: { receiveAddress, signature } };
}

/**
 * Premix outputs of a Tx0: the affordable count capped by the wallet limit
 * and, from G2 on, by the pool's `tx0MaxOutputs`; fewer than one is the Java
 * client's `Invalid nbPremix=<n>`.
 */
export function premixCount(
  p: GenerationProfile,
  affordable: number,
  walletMax: number,
  tx0MaxOutputs: number,
): number {
  let n = Math.min(affordable, walletMax);
  if (p.capsByTx0MaxOutputs) n = Math.min(n, tx0MaxOutputs);
  if (n < 1) throw new RangeError(`Invalid nbPremix=${n}`);
  return n;
}

/** STOMP CONNECT headers: `poolId` until 0.23.39, none from 0.23.40 on. */
export function connectHeaders(p: GenerationProfile, poolId: string): Record<string, string> {
  return p.connectPoolIdHeader ? { [HEADER_POOL_ID]: poolId } : {};
}

/** `RegisterInputRequest` in Jackson's field order; `blockHeight` only for G5+. */
export function registerInputBody(
  p: GenerationProfile,
  r: { poolId: string; utxoHash: string; utxoIndex: number; signature: string; liquidity: boolean },
  blockHeight: number,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    poolId: r.poolId,
    utxoHash: r.utxoHash,
    utxoIndex: r.utxoIndex,
    signature: r.signature,
    liquidity: r.liquidity,
  };
  if (p.sendsBlockHeight) body.blockHeight = blockHeight;
  return body;
}

/** `RegisterOutputRequest`; `bordereau64` only when the bordereau is random (G5+). */
export function registerOutputBody(
  p: GenerationProfile,
  r: { inputsHash: string; unblindedSignedBordereau64: string; receiveAddress: string },
  bordereau64: string | null,
): { inputsHash: string; unblindedSignedBordereau64: string; receiveAddress: string; bordereau64?: string } {
  const body = {
    inputsHash: r.inputsHash,
    unblindedSignedBordereau64: r.unblindedSignedBordereau64,
    receiveAddress: r.receiveAddress,
  };
  if (p.bordereau === 'random') {
    if (bordereau64 === null) throw new RangeError(`Generation ${p.id} needs a random bordereau`);
    return { ...body, bordereau64 };
  }
  return body;
}

/** What the wallet does with one checkOutput answer. */
export type CheckOutputDecision = 'ok' | 'index-used' | 'abort' | 'ignore';

/**
 * Judges a checkOutput answer (`null` = 200): the literal `Output already
 * registered` means the index is used (forward search, index fix-up); any
 * other failure aborts opening the wallet for G1–G4 and is ignored by G5a/G6.
 */
export function checkOutputDecision(
  p: GenerationProfile,
  serverMessage: string | null,
  ok: boolean,
): CheckOutputDecision {
  if (ok) return 'ok';
  if (serverMessage === 'Output already registered') return 'index-used';
  return p.checkOutput === 'fatal' ? 'abort' : 'ignore';
}

/**
 * Next probe of the checkOutput forward search (0.24.3
 * `PostmixIndexService.fixPostmixIndex`, simplified to its shape): from a
 * used index, double the step until an unused index is found, then halve the
 * gap until it is below 4; the result is the first index to use. `probe`
 * answers whether an index is used. At most `maxProbes` probes.
 */
export async function findUnusedIndex(
  start: number,
  probe: (index: number) => Promise<boolean>,
  maxProbes = 50,
): Promise<number> {
  let used = start;
  let step = 1;
  let probes = 0;
  let unused = -1;
  while (probes < maxProbes) {
    const i = used + step;
    probes++;
    if (await probe(i)) {
      used = i;
      step *= 2;
    } else {
      unused = i;
      break;
    }
  }
  if (unused < 0) throw new Error(`checkOutput: no unused postmix index found after ${maxProbes} probes`);
  while (unused - used >= 4 && probes < maxProbes) {
    const mid = used + Math.floor((unused - used) / 2);
    probes++;
    if (await probe(mid)) used = mid;
    else unused = mid;
  }
  return unused;
}

/**
 * Delay before the next connection after a failed connect: the fixed
 * `fixedDelayMs` (0.23.18, spec §9.4), or a uniform random delay in
 * `[min, max]` (0.23.28+: 5–120 s; `window` scales it for tests/benchmarks).
 * `random` is a number in [0, 1).
 */
export function connectRetryDelayMs(
  p: GenerationProfile,
  fixedDelayMs: number,
  random: number,
  window: { minMs: number; maxMs: number } = { minMs: RANDOM_RETRY_MIN_MS, maxMs: RANDOM_RETRY_MAX_MS },
): number {
  if (p.connectRetry === 'fixed') return fixedDelayMs;
  return Math.floor(window.minMs + random * (window.maxMs - window.minMs));
}

/** Whether a failed connect is retried forever (0.23.28+) rather than until `reconnectUntilMs`. */
export function retriesForever(p: GenerationProfile): boolean {
  return p.connectRetry === 'random-5-120s';
}
