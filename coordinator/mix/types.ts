/**
 * Types of the coordinator's mix engine: typed pool configuration, engine
 * parameters, the lease fence carried by every mix write, and the shapes the
 * engine hands to the store (blames, ban policy, mix results). The config
 * stream parses env / pools file into {@link PoolConfig} and
 * {@link MixEngineParams}; the store stream consumes {@link BlameReason},
 * {@link BanPolicy} and {@link MixResult}.
 *
 * @module
 */
import type { NetworkName } from '#shared/bitcoin/network.ts';
import type { PartnerConfig } from '#shared/protocol/partner.ts';
import type { ScodeConfig } from '#shared/protocol/scode.ts';

/** Fencing token of a pool lease: every write of a pool's mix carries it (null = no cluster). */
export interface LeaseFence {
  poolId: string;
  instanceId: string;
  epoch: number;
}

/** Mix status as sent on the wire (`MixStatus` enum of the reference). */
export type MixStatus =
  | 'CONFIRM_INPUT'
  | 'REGISTER_OUTPUT'
  | 'REVEAL_OUTPUT'
  | 'SIGNING'
  | 'SUCCESS'
  | 'FAIL';

/** Why a mix failed (`FailReason` of the reference, spec §3.9). */
export type FailReason = 'FAIL_REGISTER_OUTPUTS' | 'FAIL_SIGNING' | 'FAIL_BROADCAST' | 'DISCONNECT' | 'SPENT';

/** Why an input was blamed (spec §5.5). */
export type BlameReason = 'REGISTER_OUTPUT' | 'SIGNING' | 'DISCONNECT' | 'SPENT';

/** Ban policy (spec §5.5): `blames` blames within `periodSeconds` → ban for `expirationSeconds`. */
export interface BanPolicy {
  /** `server.ban.blames`, default 8. */
  blames: number;
  /** `server.ban.period`, default 7200. */
  periodSeconds: number;
  /** `server.ban.expiration`, default 43200. */
  expirationSeconds: number;
  /** `server.ban.recidivismFactor` (reference 2): a repeat ban lasts the previous one × this; absent = 1. */
  recidivismFactor?: number;
}

/** One alternative accepted Tx0 fee (`fee-accept` map entry): `feeValue` sats for Tx0s with time ≤ `maxTx0TimeMs`. */
export interface FeeAccept {
  feeValue: number;
  /** Milliseconds since epoch (the reference compares with block time × 1000). */
  maxTx0TimeMs: number;
}

/** One pool (`server.pools[i].*`, spec §7.1). All amounts in sats. */
export interface PoolConfig {
  id: string;
  denomination: number;
  /** Pool fee (`fee-value`), undiscounted. */
  feeValue: number;
  /** `fee-accept`, empty when not configured. */
  feeAccept: readonly FeeAccept[];
  /** `miner-fee-min` (default 102). */
  minerFeeMin: number;
  /** `miner-fee-cap` (default 9500). */
  minerFeeCap: number;
  /** `miner-fee-max` (default 10000). */
  minerFeeMax: number;
  /** `miner-fee-mix` (default 510): Σ(mustMix value − denomination) needed before start. */
  minerFeeMix: number;
  /** `must-mix-min` (default 1). */
  mustMixMin: number;
  /** `liquidity-min` (default 1). */
  liquidityMin: number;
  /** `anonymity-set`: exact number of inputs of every mix. */
  anonymitySet: number;
  /** `server.register-input.min-confirmations-must-mix` / `-liquidity` (defaults 0). */
  minConfirmations: { mustMix: number; liquidity: number };
  /** `tx0-max-outputs` (default 70): `PoolInfo.tx0MaxOutputs`. */
  tx0MaxOutputs?: number;
}

/** Default `tx0-max-outputs` of the reference (addendum §8). */
export const DEFAULT_TX0_MAX_OUTPUTS = 70;

/** Engine-wide parameters (`server.*` keys of spec §7.1). Durations in milliseconds. */
export interface MixEngineParams {
  network: NetworkName;
  /** `server.register-input.liquidity-interval` (default 10 s). */
  liquidityIntervalMs: number;
  /** `server.register-output.timeout` (default 120 s). */
  registerOutputTimeoutMs: number;
  /** `server.reveal-output.timeout` (default 40 s). */
  revealOutputTimeoutMs: number;
  /** `server.signing.timeout` (default 40 s). */
  signingTimeoutMs: number;
  /** `server.register-input.max-inputs-same-hash` (default 1; keep 1, clients refuse prev-tx reuse). */
  maxInputsSameHash: number;
  /** `server.register-input.max-inputs-same-user-hash` (default 1). */
  maxInputsSameUserHash: number;
  ban: BanPolicy;
  /** `server.mix-enabled`: when false, mixes never leave CONFIRM_INPUT. */
  mixEnabled: boolean;
  /** `server.test-mode`: skip the provenance (Tx0) check. */
  testMode: boolean;
  /** Delay of SubscribePoolResponse after SUBSCRIBE (reference: 1000 ms). */
  subscribeDelayMs: number;
  /** Configured scodes (`server.samourai-fees.scodes`). */
  scodes: readonly ScodeConfig[];
  /** Seed whose m/84'/coin'/2147483647'/0/x are the fee addresses (shared/bitcoin/fee_address.ts). Secret. */
  feeAddressSeed: Uint8Array;
  /** Private key of the coordinator's BIP47 notification key (m/47'/coin'/0'/0), used to unmask Tx0 payloads. Secret. */
  secretWalletNotificationPrivKey: Uint8Array;
  /** Notification key of the V1 secret wallet (80-byte OP_RETURNs); absent = the V0 key above. Secret. */
  secretWalletV1NotificationPrivKey?: Uint8Array;
  /** Tx0 partners (addendum §4.2); absent = SAMOURAI (0) and SPARROW (1). */
  partners?: readonly PartnerConfig[];
  /** `block-height-max-spread` (10): REGISTER_INPUT `blockHeight` farther from the cached tip is refused. */
  blockHeightMaxSpread?: number;
  /** Refresh period of the cached tip height (120 000 ms). */
  blockHeightRefreshMs?: number;
}

/** Default values of {@link MixEngineParams} that have one in the reference (spec §7.1). */
export const DEFAULT_ENGINE_TIMINGS = {
  liquidityIntervalMs: 10_000,
  registerOutputTimeoutMs: 120_000,
  revealOutputTimeoutMs: 40_000,
  signingTimeoutMs: 40_000,
  maxInputsSameHash: 1,
  maxInputsSameUserHash: 1,
  ban: { blames: 8, periodSeconds: 7200, expirationSeconds: 43200 },
  mixEnabled: true,
  testMode: false,
  subscribeDelayMs: 1000,
} as const satisfies Partial<MixEngineParams>;

/** A blame as written by the store (one `blame` row; spec §5.5). */
export interface Blame {
  /** mustMix: Tx0 txid; liquidity: `txid:index`. */
  identifier: string;
  reason: BlameReason;
  mixId: string;
  ip: string;
}

/** Outcome of a finished mix, written as `mix` + `mix_log` (+ `mix_txid` on SUCCESS) in one transaction. */
export interface MixResult {
  poolId: string;
  /** 32-hex mixId. */
  mixId: string;
  denomination: number;
  /** Actual number of inputs at the end. */
  anonymitySet: number;
  nbMustMix: number;
  nbLiquidities: number;
  /** Σ input values. */
  amountIn: number;
  /** nbInputs × denomination. */
  amountOut: number;
  /** Miner fee; null if no transaction was built. */
  feesAmount: number | null;
  /** feesAmount / vsize; null if no transaction was built. */
  feesPrice: number | null;
  /** Seconds since the mix was created. */
  mixDurationSeconds: number;
  status: 'SUCCESS' | 'FAIL';
  failReason: FailReason | null;
  failInfo: string | null;
  /** Transaction id, null if no transaction was built. */
  txid: string | null;
  /** Hex of the (signed or partially signed) transaction, null if none was built. */
  rawTxHex: string | null;
}
