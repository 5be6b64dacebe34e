/**
 * Blind-signature accounting of one mix, and the pure decisions that keep the
 * number of blind signatures, confirmed inputs and registered outputs equal
 * (issue 12, "a signature never outlives its input"):
 *
 * - {@link SignatureLedger}: every outpoint and userHash this mix's RSA key
 *   ever signed for, over the mix's whole life (inputs that left included), so
 *   one UTXO or one wallet never gets two signatures under one key;
 * - {@link onSignedInputLeft}: what a mix does when an input holding a
 *   signature leaves (restart under a new key before the outputs, blame and
 *   FAIL after);
 * - {@link admitOutput}: whether a registerOutput is accepted, refused, or is
 *   proof of a signature that should not exist (outputs already full), in
 *   which case the mix ends without blaming anyone.
 *
 * No I/O, no clock: mix_round.ts applies these decisions.
 *
 * @module
 */
import type { MixStatus } from './types.ts';

/** Why a confirmation must not be signed: the outpoint or the userHash already has this mix's signature. */
export type LedgerRefusal =
  | { outcome: 'reject'; message: 'Input already confirmed' }
  | { outcome: 'requeue'; message: 'Your wallet already registered for this mix' };

/** The outpoints and userHashes one mix key has signed for (never forgets within the mix). */
export class SignatureLedger {
  readonly #outpoints = new Set<string>();
  readonly #userHashes = new Map<string, number>();

  /** Number of blind signatures issued so far. */
  get size(): number {
    return this.#outpoints.size;
  }

  /**
   * Null when `outpoint` with `userHash` may be signed; else the refusal. A
   * userHash may hold at most `maxSameUserHash` signatures over the mix's life
   * (default 1: never twice).
   */
  refusal(outpoint: string, userHash: string, maxSameUserHash: number): LedgerRefusal | null {
    if (this.#outpoints.has(outpoint)) return { outcome: 'reject', message: 'Input already confirmed' };
    if ((this.#userHashes.get(userHash) ?? 0) + 1 > maxSameUserHash) {
      return { outcome: 'requeue', message: 'Your wallet already registered for this mix' };
    }
    return null;
  }

  /** Records a signature issued for `outpoint` / `userHash`. Throws if {@link refusal} would refuse it. */
  record(outpoint: string, userHash: string): void {
    if (this.#outpoints.has(outpoint)) throw new Error(`Outpoint ${outpoint} already signed in this mix`);
    this.#outpoints.add(outpoint);
    this.#userHashes.set(userHash, (this.#userHashes.get(userHash) ?? 0) + 1);
  }
}

/**
 * What a mix does when inputs holding its blind signatures leave (disconnect,
 * spent, requeue, kick...): before REGISTER_OUTPUT their signatures could buy
 * outputs that are not theirs, so the mix restarts under a new mixId and RSA
 * key without blame; from REGISTER_OUTPUT on the reference's rule applies
 * (blame the leavers, FAIL); an ended mix ignores it.
 */
export function onSignedInputLeft(
  status: MixStatus,
  ended: boolean,
): 'restart' | 'blame-and-fail' | 'ignore' {
  if (ended || status === 'SUCCESS' || status === 'FAIL') return 'ignore';
  return status === 'CONFIRM_INPUT' ? 'restart' : 'blame-and-fail';
}

/** What {@link admitOutput} needs to know. */
export interface OutputAttempt {
  status: MixStatus;
  /** The unblinded signature verifies for the address under this mix's key. */
  signatureValid: boolean;
  /** The address is already one of this mix's outputs. */
  alreadyRegistered: boolean;
  /** Outputs registered so far. */
  outputs: number;
  /** Confirmed inputs present, each holding exactly one signature of this mix. */
  signedInputs: number;
  /** Signatures the mix key issued over its life (≥ signedInputs). */
  signaturesIssued: number;
}

/** Outcome of a registerOutput: accept, refuse with a message, or end the mix without blame. */
export type OutputAdmission =
  | { outcome: 'accept' }
  | { outcome: 'refuse'; message: string; notifiable: boolean }
  | { outcome: 'fail-without-blame'; message: string };

/**
 * Decides a registerOutput. The signature is judged first (before any address
 * lookup: see README "Deliberate differences"). A valid signature for a new
 * address while every signed input already has its output proves a signature
 * exists that no input owns: someone was robbed of their slot and would be
 * blamed at SIGNING, so the mix ends at once without blame.
 */
export function admitOutput(a: OutputAttempt): OutputAdmission {
  const open = a.status === 'REGISTER_OUTPUT';
  if (!a.signatureValid) {
    return open
      ? { outcome: 'refuse', message: 'Invalid unblindedSignedBordereau', notifiable: true }
      : { outcome: 'refuse', message: `Mix failed: mix is ${a.status}`, notifiable: false };
  }
  if (a.alreadyRegistered) {
    return open
      ? { outcome: 'refuse', message: 'receiveAddress already registered', notifiable: true }
      : { outcome: 'refuse', message: `Mix failed: mix is ${a.status}`, notifiable: false };
  }
  const full = a.outputs >= a.signedInputs;
  if (full && (open || a.status === 'SIGNING')) {
    return { outcome: 'fail-without-blame', message: 'a valid output arrived while the outputs were full' };
  }
  if (!open) return { outcome: 'refuse', message: `Mix failed: mix is ${a.status}`, notifiable: false };
  if (a.signaturesIssued !== a.signedInputs) {
    // a signature outlived its input (should have restarted): never let it buy an output
    return { outcome: 'fail-without-blame', message: 'more signatures issued than signed inputs present' };
  }
  return { outcome: 'accept' };
}
