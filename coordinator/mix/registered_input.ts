/**
 * A registered input and the "input pool" that holds them (spec §3.1): the
 * mustMix queue, the liquidity queue and a mix's confirming inputs are all
 * input pools keyed by outpoint, where one username (STOMP session) holds at
 * most one input.
 *
 * @module
 */
import { NotifiableError } from './errors.ts';
import type { ValidatedInput } from './input_validator.ts';
import type { MixSession } from './mix_session.ts';

/** An input accepted at REGISTER_INPUT, bound to the session that registered it. */
export interface RegisteredInput extends ValidatedInput {
  /** STOMP session id. */
  username: string;
  session: MixSession;
  ip: string;
  /** userHash given at its last confirm attempt, reset when a mix ends. */
  lastUserHash: string | null;
}

/** `txid:index` key of an outpoint. */
export function outpointKey(input: { txid: string; index: number }): string {
  return `${input.txid}:${input.index}`;
}

/** Thrown when an outpoint is registered twice; the REGISTER_INPUT handler swallows it (no reply). */
export class InputAlreadyRegisteredError extends Error {
  constructor(key: string) {
    super(`Input already registered: ${key}`);
    this.name = 'InputAlreadyRegisteredError';
  }
}

/** Set of registered inputs keyed by outpoint, with the one-input-per-username rule. */
export class InputPool {
  readonly #byKey = new Map<string, RegisteredInput>();
  readonly #byUsername = new Map<string, RegisteredInput>();

  get size(): number {
    return this.#byKey.size;
  }

  /** Adds an input; throws {@link InputAlreadyRegisteredError} or `Username already registered another input`. */
  register(input: RegisteredInput): void {
    const key = outpointKey(input);
    if (this.#byKey.has(key)) throw new InputAlreadyRegisteredError(key);
    const other = this.#byUsername.get(input.username);
    if (other) throw new NotifiableError(`Username already registered another input: ${input.username}`);
    this.#byKey.set(key, input);
    this.#byUsername.set(input.username, input);
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  findByUsername(username: string): RegisteredInput | undefined {
    return this.#byUsername.get(username);
  }

  /** Removes and returns the input of `username`, if any. */
  removeByUsername(username: string): RegisteredInput | undefined {
    const input = this.#byUsername.get(username);
    if (input) this.remove(input);
    return input;
  }

  remove(input: RegisteredInput): void {
    const key = outpointKey(input);
    if (this.#byKey.get(key) === input) {
      this.#byKey.delete(key);
      this.#byUsername.delete(input.username);
    }
  }

  list(): RegisteredInput[] {
    return [...this.#byKey.values()];
  }

  clear(): void {
    this.#byKey.clear();
    this.#byUsername.clear();
  }
}
