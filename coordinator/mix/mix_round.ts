/**
 * One mix of a pool, the coordinator's state machine (spec §3, Appendix A),
 * written to read top to bottom:
 *
 *   open (invite queued mustMix) → CONFIRM_INPUT (confirmations, liquidity
 *   timer) → REGISTER_OUTPUT → (REVEAL_OUTPUT) → SIGNING → SUCCESS / FAIL
 *   (persist, notify, next mix).
 *
 * Every method runs under the pool's lock (see pool_runtime.ts), timers
 * included, so the state below is never observed half-changed.
 *
 * Integrity (issue 12): a blind signature never outlives its input. Every
 * signature issued is recorded ({@link SignatureLedger}); an input holding one
 * that leaves before REGISTER_OUTPUT (disconnect, spent...) restarts the mix
 * (FAIL without blame, the remaining inputs go back to their queues and the
 * next mix — new mixId, new RSA key — invites them); outputs are accepted only
 * up to the number of signed inputs present ({@link admitOutput}).
 * Client-visible
 * failures throw {@link NotifiableError}; internal ones {@link MixInternalError}
 * (sent as `Error`).
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { MixRsaKey } from '#coordinator/crypto/mix_rsa_key.ts';
import type { Logger } from '#coordinator/log.ts';
import type { MixStore } from '#coordinator/store/mix_store.ts';
import { verifyP2wpkhWitness } from '#shared/bitcoin/witness_verify.ts';
import { z85Decode, z85Encode } from '#shared/codec/z85.ts';
import type { Secp256k1 } from '#shared/crypto/secp256k1.ts';
import { computeInputsHash } from '#shared/protocol/inputs_hash.ts';
import type {
  ConfirmInputRequest,
  RegisterOutputRequest,
  RevealOutputRequest,
  SigningRequest,
} from '#shared/protocol/messages.ts';
import type { BitcoinRpc } from '#shared/rpc/bitcoin_rpc.ts';
import { blameIdentifier } from './blame_identifier.ts';
import { isParticipantError, saveOutputDeadlineMs, withDeadline } from './db_deadline.ts';
import { MixInternalError, NotifiableError } from './errors.ts';
import {
  type CompositionRules,
  type ConfirmedCompositionInput,
  checkConfirmInput,
  compositionCounts,
  isCompositionReady,
  isOpenToLiquidities,
  liquiditiesToInvite,
} from './mix_composition.ts';
import type { MixSession } from './mix_session.ts';
import {
  buildMixTx,
  legacyTxBytes,
  type MixTx,
  mixTxFee,
  mixTxVsize,
  setInputWitness,
  signedTxBytes,
} from './mix_tx.ts';
import { shuffled } from './notify_order.ts';
import { InputPool, outpointKey, type RegisteredInput } from './registered_input.ts';
import { admitOutput, onSignedInputLeft, SignatureLedger } from './signature_ledger.ts';
import type {
  BlameReason,
  FailReason,
  LeaseFence,
  MixEngineParams,
  MixResult,
  MixStatus,
  PoolConfig,
} from './types.ts';

/** What a mix needs from its pool and the engine. */
export interface RoundContext {
  pool: PoolConfig;
  params: MixEngineParams;
  store: Pick<MixStore, 'blame' | 'saveMixResult' | 'saveOutput'>;
  rpc: Pick<BitcoinRpc, 'getTxOut' | 'sendRawTransaction'>;
  logger: Logger;
  fence: () => LeaseFence | null;
  mustMixQueue: InputPool;
  liquidityQueue: InputPool;
  /** False while the pool drains: no invitation of any kind. */
  inviting: () => boolean;
  /** Runs `fn` under the pool's lock (used by timers). */
  runLocked: (fn: () => Promise<void>) => void;
  /** Called last when this mix ended: the pool creates and opens its next mix. */
  nextMix: (ended: MixRound) => Promise<void>;
  /** Uniform [0, 1) source for choosing liquidities. */
  random: () => number;
  /** Witness verification backend (default: the portable noble one). */
  secp256k1?: Secp256k1 | undefined;
}

/** A confirmed input: the registered input and the userHash it confirmed with. */
interface ConfirmedInput {
  input: RegisteredInput;
  userHash: string;
}

/** One mix of one pool (spec §3.1 "A mix holds"). */
export class MixRound {
  readonly mixId: string;
  readonly createdAt: number;
  #status: MixStatus = 'CONFIRM_INPUT';
  readonly #key: MixRsaKey;
  readonly #ctx: RoundContext;
  readonly #rules: CompositionRules;
  /** Invited, not yet confirmed. */
  readonly confirming = new InputPool();
  readonly #confirmed: ConfirmedInput[] = [];
  /** Every outpoint / userHash this mix's key signed for, inputs that left included. */
  readonly #ledger = new SignatureLedger();
  #inputsHash: string | null = null;
  readonly #receiveAddresses = new Set<string>();
  /** Hex of the bordereaux of accepted outputs: one signed token = one output (addendum §6.5, compared by value). */
  readonly #bordereaux = new Set<string>();
  readonly #revealed = new Map<string, string>();
  readonly #signed = new Set<string>();
  #mixTx: MixTx | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerGeneration = 0;
  #ended = false;

  constructor(mixId: string, key: MixRsaKey, ctx: RoundContext, now: number = Date.now()) {
    this.mixId = mixId;
    this.#key = key;
    this.#ctx = ctx;
    this.createdAt = now;
    this.#rules = {
      denomination: ctx.pool.denomination,
      anonymitySet: ctx.pool.anonymitySet,
      mustMixMin: ctx.pool.mustMixMin,
      liquidityMin: ctx.pool.liquidityMin,
      minerFeeMix: ctx.pool.minerFeeMix,
      maxInputsSameHash: ctx.params.maxInputsSameHash,
      maxInputsSameUserHash: ctx.params.maxInputsSameUserHash,
    };
  }

  get status(): MixStatus {
    return this.#status;
  }
  get ended(): boolean {
    return this.#ended;
  }
  get inputsHash(): string | null {
    return this.#inputsHash;
  }
  get confirmedInputs(): RegisteredInput[] {
    return this.#confirmed.map((c) => c.input);
  }
  get publicKeySpki(): Uint8Array {
    return this.#key.publicKeySpki;
  }

  // ---------------------------------------------------------------------------
  // Opening: invite every queued mustMix that passes the mixability filter (§3.4)

  /** Invites the queued mustMix inputs (called once, right after creation). */
  open(): void {
    if (!this.#ctx.inviting()) return;
    for (const input of this.#ctx.mustMixQueue.list()) {
      if (this.#mixable(input)) {
        this.#ctx.mustMixQueue.remove(input);
        this.#invite(input);
      }
    }
  }

  /** A newly registered mustMix while in CONFIRM_INPUT: invited at once, without the mixability check (§3.3). */
  inviteRegistered(input: RegisteredInput): void {
    this.#invite(input);
  }

  #mixable(input: RegisteredInput): boolean {
    return (
      checkConfirmInput(this.#status, this.#composition(), input, input.lastUserHash, this.#rules).outcome ===
      'ok'
    );
  }

  #invite(input: RegisteredInput): void {
    this.confirming.register(input);
    input.session.sendPrivate('ConfirmInputMixStatusNotification', {
      status: 'CONFIRM_INPUT',
      mixId: this.mixId,
      publicKey64: z85Encode(this.#key.publicKeySpki),
    });
  }

  // ---------------------------------------------------------------------------
  // CONFIRM_INPUT (§3.5): checks a–i, blind signature, liquidity timer, readiness

  /** Handles ConfirmInputRequest from `session` (mixId already matched by the caller). */
  async confirmInput(session: MixSession, req: ConfirmInputRequest): Promise<void> {
    const input = this.confirming.removeByUsername(session.id);
    if (!input) throw new NotifiableError(`Confirming input not found: username=${session.id}`);
    input.lastUserHash = req.userHash;

    const check = checkConfirmInput(this.#status, this.#composition(), input, req.userHash, this.#rules);
    if (check.outcome === 'requeue') {
      this.#ctx.logger.info(
        { mixId: this.mixId, input: outpointKey(input), reason: check.message },
        'input requeued',
      );
      this.#requeue(input);
      return;
    }
    if (check.outcome === 'reject') throw new NotifiableError(check.message);
    const refusal = this.#ledger.refusal(outpointKey(input), req.userHash, this.#rules.maxInputsSameUserHash);
    if (refusal?.outcome === 'requeue') {
      this.#ctx.logger.info(
        { mixId: this.mixId, input: outpointKey(input), reason: refusal.message },
        'input requeued: userHash already signed in this mix',
      );
      this.#requeue(input);
      return;
    }
    if (refusal) throw new NotifiableError(refusal.message);

    const signedBordereau = this.#key.signBlinded(z85Decode(req.blindedBordereau64));
    this.#ledger.record(outpointKey(input), req.userHash);
    this.#confirmed.push({ input, userHash: req.userHash });
    session.sendPrivate('ConfirmInputResponse', {
      mixId: this.mixId,
      signedBordereau64: z85Encode(signedBordereau),
    });
    if (this.#timer === null) {
      this.#startTimer(this.#ctx.params.liquidityIntervalMs, () => this.#inviteLiquidities(), true);
    }
    await this.#startIfReady();
  }

  #requeue(input: RegisteredInput): void {
    const queue = input.liquidity ? this.#ctx.liquidityQueue : this.#ctx.mustMixQueue;
    if (input.session.closed) return;
    try {
      queue.register(input);
    } catch (err) {
      this.#ctx.logger.debug({ err, input: outpointKey(input) }, 'requeue skipped');
    }
  }

  /** Liquidity timer tick (§3.4): up to anonSet − inputs + 1 random mixable liquidities. */
  async #inviteLiquidities(): Promise<void> {
    const counts = compositionCounts(this.#composition(), this.#rules.denomination);
    if (!this.#ctx.inviting() || !isOpenToLiquidities(counts, this.#rules)) return;
    let wanted = liquiditiesToInvite(counts, this.#rules);
    const candidates = this.#ctx.liquidityQueue.list().filter((input) => this.#mixable(input));
    while (wanted > 0 && candidates.length > 0) {
      const [input] = candidates.splice(Math.floor(this.#ctx.random() * candidates.length), 1);
      if (!input) break;
      this.#ctx.liquidityQueue.remove(input);
      this.#invite(input);
      wanted--;
    }
  }

  /** Readiness (§3.2) after a confirmation: spent inputs restart the mix (they hold signatures), then composition. */
  async #startIfReady(): Promise<void> {
    const spent = await this.#dropSpentInputs();
    if (spent.length > 0) {
      await this.#signedInputsLeft(spent, 'SPENT');
      return;
    }
    if (this.#ended || !this.#ctx.params.mixEnabled) return;
    if (!isCompositionReady(compositionCounts(this.#composition(), this.#rules.denomination), this.#rules))
      return;
    this.#toRegisterOutput();
  }

  // ---------------------------------------------------------------------------
  // REGISTER_OUTPUT (§3.6)

  #toRegisterOutput(): void {
    this.#status = 'REGISTER_OUTPUT';
    this.#inputsHash = computeInputsHash(this.#confirmed.map((c) => c.input));
    // random order: the order of the registerOutput POSTs must not mirror the order of confirmation
    this.#notifyConfirmed(
      'RegisterOutputMixStatusNotification',
      { status: 'REGISTER_OUTPUT', mixId: this.mixId, inputsHash: this.#inputsHash },
      shuffled(this.#confirmed, this.#ctx.random),
    );
    this.#startTimer(this.#ctx.params.registerOutputTimeoutMs, () => this.#onRegisterOutputTimeout());
  }

  /**
   * Steps 3–7 of §3.6 for an address already checked for syntax and network
   * (step 1, done by the engine before taking the lock). The signature is
   * checked before any address lookup (README, "Deliberate differences"): the
   * reuse check (step 2) is the unique key of `mix_output` in saveOutput.
   */
  async registerOutput(req: RegisterOutputRequest): Promise<void> {
    if (this.#ended || this.#inputsHash === null || this.#inputsHash !== req.inputsHash) {
      throw new MixInternalError(
        `Mix failed: ${this.mixId} is ${this.#status}, not REGISTER_OUTPUT for this inputsHash`,
      );
    }
    const address = req.receiveAddress;
    const signature = z85Decode(req.unblindedSignedBordereau64);
    // G5+ sign a random 30-byte bordereau; older clients sign the address bytes (addendum §6.3)
    const bordereau =
      req.bordereau64 !== undefined && req.bordereau64 !== null
        ? z85Decode(req.bordereau64)
        : new TextEncoder().encode(address);
    const admission = admitOutput({
      status: this.#status,
      signatureValid: this.#key.verify(bordereau, signature),
      alreadyRegistered: this.#receiveAddresses.has(address),
      outputs: this.#receiveAddresses.size,
      signedInputs: this.#confirmed.length,
      signaturesIssued: this.#ledger.size,
    });
    if (admission.outcome === 'fail-without-blame') {
      this.#ctx.logger.error(
        { mixId: this.mixId, status: this.#status },
        `mix integrity: ${admission.message}`,
      );
      await this.#end(
        'FAIL',
        this.#status === 'SIGNING' ? 'FAIL_SIGNING' : 'FAIL_REGISTER_OUTPUTS',
        admission.message,
      );
      throw new MixInternalError(`Mix failed: ${this.mixId}: ${admission.message}`);
    }
    if (admission.outcome === 'refuse') {
      const message =
        admission.message === 'receiveAddress already registered'
          ? `${admission.message}: ${address}`
          : admission.message;
      throw admission.notifiable
        ? new NotifiableError(message)
        : new MixInternalError(`${message} (${this.mixId})`);
    }
    const bordereauKey = bytesToHex(bordereau);
    if (this.#bordereaux.has(bordereauKey)) throw new NotifiableError('Bordereau already registered');
    const lower = address.toLowerCase();
    if (this.#confirmed.some((c) => c.input.address.toLowerCase() === lower)) {
      throw new NotifiableError('receiveAddress already registered as input');
    }
    this.#receiveAddresses.add(address);
    this.#bordereaux.add(bordereauKey);
    try {
      await withDeadline(
        this.#ctx.store.saveOutput(address, this.#ctx.fence()),
        saveOutputDeadlineMs(this.#ctx.params.registerOutputTimeoutMs),
        'saveOutput',
      );
    } catch (err) {
      this.#receiveAddresses.delete(address);
      this.#bordereaux.delete(bordereauKey);
      if (isParticipantError(err)) {
        throw new NotifiableError(`receiveAddress already registered: ${address}`, { cause: err });
      }
      // the database (or the lease) failed, not a participant: end now, nobody blamed (issue 17)
      this.#ctx.logger.error({ err, mixId: this.mixId }, 'saveOutput failed: mix ends without blame');
      const detail = err instanceof Error ? err.message : String(err);
      await this.#end(
        'FAIL',
        'FAIL_REGISTER_OUTPUTS',
        `database fault at registerOutput: ${detail}`.slice(0, 500),
      );
      throw new MixInternalError(`Mix failed: ${this.mixId}: database fault`, { cause: err });
    }
    if (this.#receiveAddresses.size === this.#confirmed.length) {
      if (await this.#failIfSpent()) return;
      this.#toSigning();
    }
  }

  /** REGISTER_OUTPUT timeout: no output → FAIL without blame; some outputs → REVEAL_OUTPUT. */
  async #onRegisterOutputTimeout(): Promise<void> {
    if (this.#receiveAddresses.size === 0) {
      await this.#end('FAIL', 'FAIL_REGISTER_OUTPUTS', null);
      return;
    }
    this.#toRevealOutput();
  }

  // ---------------------------------------------------------------------------
  // REVEAL_OUTPUT (§3.7): blame phase

  #toRevealOutput(): void {
    this.#status = 'REVEAL_OUTPUT';
    this.#notifyConfirmed('RevealOutputMixStatusNotification', {
      status: 'REVEAL_OUTPUT',
      mixId: this.mixId,
    });
    this.#startTimer(this.#ctx.params.revealOutputTimeoutMs, () => this.#blameNonRevealers());
  }

  /** Handles RevealOutputRequest from `session`. */
  async revealOutput(session: MixSession, req: RevealOutputRequest): Promise<void> {
    this.#expectStatus('REVEAL_OUTPUT');
    if (this.#revealed.has(session.id)) throw new NotifiableError('Output already revealed');
    if ([...this.#revealed.values()].includes(req.receiveAddress)) {
      throw new NotifiableError('ReceiveAddress already revealed');
    }
    if (!this.#receiveAddresses.has(req.receiveAddress)) throw new NotifiableError('Invalid receiveAddress');
    this.#revealed.set(session.id, req.receiveAddress);
    if (this.#revealed.size >= this.#confirmed.length - 1) await this.#blameNonRevealers();
  }

  async #blameNonRevealers(): Promise<void> {
    const culprits = this.#confirmed.filter((c) => !this.#revealed.has(c.input.username)).map((c) => c.input);
    await this.#blameAndFail(culprits, 'REGISTER_OUTPUT', 'FAIL_REGISTER_OUTPUTS');
  }

  // ---------------------------------------------------------------------------
  // SIGNING (§3.8)

  #toSigning(): void {
    this.#mixTx = buildMixTx(
      this.#confirmed.map((c) => c.input),
      [...this.#receiveAddresses],
      this.#ctx.pool.denomination,
      this.#ctx.params.network,
    );
    this.#status = 'SIGNING';
    this.#notifyConfirmed('SigningMixStatusNotification', {
      status: 'SIGNING',
      mixId: this.mixId,
      transaction64: z85Encode(legacyTxBytes(this.#mixTx)),
    });
    this.#startTimer(this.#ctx.params.signingTimeoutMs, () => this.#onSigningTimeout());
  }

  /** Handles SigningRequest from `session`. */
  async signing(session: MixSession, req: SigningRequest): Promise<void> {
    this.#expectStatus('SIGNING');
    const mixTx = this.#mixTx;
    const confirmed = this.#confirmed.find((c) => c.input.username === session.id);
    if (!confirmed || !mixTx) throw new NotifiableError(`Input not found for signing username=${session.id}`);
    if (this.#signed.has(session.id))
      throw new NotifiableError(`User already signed, username=${session.id}`);
    const witness = req.witnesses64.map((item) => z85Decode(item));
    const { input } = confirmed;
    const inputIndex = mixTx.inputs.findIndex((i) => i.txid === input.txid && i.index === input.index);
    if (
      inputIndex < 0 ||
      !verifyP2wpkhWitness(
        mixTx.tx,
        inputIndex,
        input.scriptPubKey,
        BigInt(input.value),
        witness,
        this.#ctx.secp256k1,
      )
    ) {
      throw new NotifiableError('Invalid signature');
    }
    setInputWitness(mixTx, inputIndex, witness);
    this.#signed.add(session.id);
    if (await this.#failIfSpent()) return;
    if (this.#signed.size === this.#confirmed.length) await this.#broadcast(mixTx);
  }

  async #broadcast(mixTx: MixTx): Promise<void> {
    try {
      await this.#ctx.rpc.sendRawTransaction(bytesToHex(signedTxBytes(mixTx)));
    } catch (err) {
      this.#ctx.logger.warn({ err, mixId: this.mixId }, 'mix broadcast failed');
      await this.#end('FAIL', 'FAIL_BROADCAST', err instanceof Error ? err.message : String(err));
      return;
    }
    await this.#end('SUCCESS', null, null);
  }

  async #onSigningTimeout(): Promise<void> {
    const culprits = this.#confirmed.filter((c) => !this.#signed.has(c.input.username)).map((c) => c.input);
    await this.#blameAndFail(culprits, 'SIGNING', 'FAIL_SIGNING');
  }

  // ---------------------------------------------------------------------------
  // Spent inputs (§3.10) and disconnects (§3.11)

  /** gettxout on every confirmed input; spent ones are removed and returned. */
  async #dropSpentInputs(): Promise<RegisteredInput[]> {
    const spent: RegisteredInput[] = [];
    for (const c of [...this.#confirmed]) {
      const txOut = await this.#ctx.rpc.getTxOut(c.input.txid, c.input.index, true);
      if (!txOut) {
        spent.push(c.input);
        this.#confirmed.splice(this.#confirmed.indexOf(c), 1);
      }
    }
    if (spent.length > 0) {
      this.#ctx.logger.info({ mixId: this.mixId, spent: spent.map(outpointKey) }, 'spent inputs removed');
    }
    return spent;
  }

  /** After the start: a spent input is blamed (SPENT) and the mix FAILs (SPENT). Returns true if it failed. */
  async #failIfSpent(): Promise<boolean> {
    const spent = await this.#dropSpentInputs();
    if (spent.length === 0) return false;
    await this.#blameAndFail(spent, 'SPENT', 'SPENT');
    return true;
  }

  /**
   * The session ended: drop its input. A confirmed input holds a signature:
   * before the start the mix restarts without blame, after it the input is
   * blamed (DISCONNECT) and the mix FAILs.
   */
  async onDisconnect(username: string): Promise<void> {
    this.confirming.removeByUsername(username);
    const index = this.#confirmed.findIndex((c) => c.input.username === username);
    if (index < 0) return;
    const [removed] = this.#confirmed.splice(index, 1);
    if (removed) await this.#signedInputsLeft([removed.input], 'DISCONNECT');
  }

  /** Inputs holding this mix's signatures left (already removed from the confirmed list). */
  async #signedInputsLeft(left: RegisteredInput[], reason: 'DISCONNECT' | 'SPENT'): Promise<void> {
    switch (onSignedInputLeft(this.#status, this.#ended)) {
      case 'restart':
        await this.#restart(left, reason);
        return;
      case 'blame-and-fail':
        await this.#blameAndFail(left, reason, reason);
        return;
      case 'ignore':
        return;
    }
  }

  /**
   * Restart before REGISTER_OUTPUT: this mix ends (recorded as FAIL, nobody
   * blamed) and takes its RSA key, hence every signature it issued, with it.
   * The next mix has a new mixId and key. Inputs only invited go back to
   * their queues and are invited again on the same session. A confirmed
   * client cannot take a second invitation on its session (0.23 clients stop
   * on a new mixId after ConfirmInputResponse, and a FAIL makes them back off
   * for minutes), so its session is closed without FAIL: the client
   * reconnects at once and registers again (like a drain, README).
   */
  async #restart(left: RegisteredInput[], reason: 'DISCONNECT' | 'SPENT'): Promise<void> {
    const failInfo = `restart: ${left.map(outpointKey).join(';')}`;
    this.#ctx.logger.info(
      { mixId: this.mixId, left: left.map(outpointKey), reason },
      'signed input left before REGISTER_OUTPUT: mix restarts under a new key, nobody blamed',
    );
    await this.#end('FAIL', reason, failInfo, {
      requeue: this.confirming.list(),
      close: this.#confirmed.map((c) => c.input),
    });
  }

  // ---------------------------------------------------------------------------
  // SUCCESS / FAIL (§3.9)

  async #blameAndFail(culprits: RegisteredInput[], blame: BlameReason, reason: FailReason): Promise<void> {
    for (const input of culprits) await this.#blame(input, blame);
    await this.#end('FAIL', reason, culprits.map(outpointKey).join(';'));
  }

  async #blame(input: RegisteredInput, reason: BlameReason): Promise<void> {
    const identifier = blameIdentifier(input);
    try {
      const { banned } = await this.#ctx.store.blame(
        { identifier, reason, mixId: this.mixId, ip: input.ip },
        this.#ctx.params.ban,
        this.#ctx.fence(),
      );
      this.#ctx.logger.info({ mixId: this.mixId, identifier, reason, banned }, 'input blamed');
    } catch (err) {
      this.#ctx.logger.error({ err, mixId: this.mixId, identifier, reason }, 'blame not recorded');
    }
  }

  /**
   * Persist, notify (or, for a restart, requeue the invited inputs and close
   * the confirmed sessions), then reset the queues' lastUserHash and open the
   * next mix — in this order.
   */
  async #end(
    status: 'SUCCESS' | 'FAIL',
    failReason: FailReason | null,
    failInfo: string | null,
    restart: { requeue: readonly RegisteredInput[]; close: readonly RegisteredInput[] } | null = null,
  ): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#status = status;
    this.#stopTimer();
    try {
      await this.#ctx.store.saveMixResult(this.#result(status, failReason, failInfo), this.#ctx.fence());
    } catch (err) {
      this.#ctx.logger.error({ err, mixId: this.mixId }, 'mix result not saved');
    }
    if (restart) {
      for (const input of restart.requeue) {
        this.confirming.remove(input);
        this.#requeue(input);
      }
      for (const input of restart.close) {
        if (!input.session.closed) input.session.close(`mix ${this.mixId} restarted: register again`);
      }
    } else if (status === 'SUCCESS') {
      this.#notifyConfirmed('SuccessMixStatusNotification', { status: 'SUCCESS', mixId: this.mixId });
    } else {
      this.#notifyConfirmed('FailMixStatusNotification', { status: 'FAIL', mixId: this.mixId });
    }
    this.#ctx.logger.info({ mixId: this.mixId, status, failReason, failInfo }, 'mix ended');
    for (const input of [...this.#ctx.mustMixQueue.list(), ...this.#ctx.liquidityQueue.list()]) {
      input.lastUserHash = null;
    }
    await this.#ctx.nextMix(this);
  }

  /** Ends this mix without persisting, notifying or blaming (pool deactivated). */
  discard(): void {
    this.#ended = true;
    this.#stopTimer();
  }

  #result(status: 'SUCCESS' | 'FAIL', failReason: FailReason | null, failInfo: string | null): MixResult {
    const inputs = this.#confirmed.map((c) => c.input);
    const counts = compositionCounts(inputs, this.#rules.denomination);
    const mixTx = this.#mixTx;
    const feesAmount = mixTx ? mixTxFee(mixTx, this.#rules.denomination) : null;
    return {
      poolId: this.#ctx.pool.id,
      mixId: this.mixId,
      denomination: this.#rules.denomination,
      anonymitySet: counts.inputs,
      nbMustMix: counts.mustMix,
      nbLiquidities: counts.liquidities,
      amountIn: inputs.reduce((sum, i) => sum + i.value, 0),
      amountOut: counts.inputs * this.#rules.denomination,
      feesAmount,
      feesPrice: mixTx && feesAmount !== null ? Math.floor(feesAmount / mixTxVsize(mixTx)) : null,
      mixDurationSeconds: Math.round((Date.now() - this.createdAt) / 1000),
      status,
      failReason,
      failInfo,
      txid: mixTx ? bytesToHex(sha256(sha256(legacyTxBytes(mixTx))).reverse()) : null,
      rawTxHex: mixTx ? bytesToHex(signedTxBytes(mixTx)) : null,
    };
  }

  // ---------------------------------------------------------------------------
  // Helpers: composition view, notifications, the mix timer (§3.12)

  #composition(): ConfirmedCompositionInput[] {
    return this.#confirmed.map((c) => ({ ...c.input, userHash: c.userHash }));
  }

  #expectStatus(expected: MixStatus): void {
    if (this.#status !== expected) {
      throw new MixInternalError(
        `Operation not permitted for current mix status: expected=${expected}, actual=${this.#status}`,
      );
    }
  }

  #notifyConfirmed(
    name:
      | 'RegisterOutputMixStatusNotification'
      | 'RevealOutputMixStatusNotification'
      | 'SigningMixStatusNotification'
      | 'SuccessMixStatusNotification'
      | 'FailMixStatusNotification',
    payload: unknown,
    order: readonly ConfirmedInput[] = this.#confirmed,
  ): void {
    for (const c of order) {
      if (!c.input.session.closed) c.input.session.sendPrivate(name, payload);
    }
  }

  /** One timer per mix, restarted on every status change; its action runs under the pool lock. */
  #startTimer(ms: number, action: () => Promise<void>, repeat = false): void {
    this.#stopTimer();
    const generation = ++this.#timerGeneration;
    const arm = (): void => {
      this.#timer = setTimeout(() => {
        this.#ctx.runLocked(async () => {
          if (this.#ended || generation !== this.#timerGeneration) return;
          await action();
          if (repeat && !this.#ended && generation === this.#timerGeneration) arm();
        });
      }, ms);
      this.#timer.unref?.();
    };
    arm();
  }

  #stopTimer(): void {
    this.#timerGeneration++;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
