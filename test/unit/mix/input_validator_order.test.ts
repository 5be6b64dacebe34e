/**
 * REGISTER_INPUT checks run cheapest first: a request for another pool, a
 * malformed signature, or a well-formed signature by the wrong key for a
 * transaction the engine already knows are refused without one database
 * statement or bitcoin RPC call; a valid one makes exactly one of each
 * (inputFacts, gettxout). The store and node here are recorders (they count
 * calls); the real ones run in test/integration/mix/mix_engine.test.ts.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { p2wpkh, Transaction } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import { loadNativeSecp256k1 } from '#coordinator/crypto/native_secp256k1.ts';
import { NotifiableError } from '#coordinator/mix/errors.ts';
import { type InputValidatorContext, validateRegisterInput } from '#coordinator/mix/input_validator.ts';
import { TxFactsCache } from '#coordinator/mix/tx_facts.ts';
import type { PoolConfig } from '#coordinator/mix/types.ts';
import { p2wpkhAddress } from '#shared/bitcoin/network.ts';
import { signMessage } from '#shared/bitcoin/signed_message.ts';
import type { RegisterInputRequest } from '#shared/protocol/messages.ts';

const POOL: PoolConfig = {
  id: 'p0.01',
  denomination: 1_000_000,
  feeValue: 50_000,
  feeAccept: [],
  minerFeeMin: 102,
  minerFeeCap: 9500,
  minerFeeMax: 10_000,
  minerFeeMix: 510,
  mustMixMin: 1,
  liquidityMin: 0,
  anonymitySet: 3,
  minConfirmations: { mustMix: 0, liquidity: 0 },
};

const OWNER = secp256k1.utils.randomSecretKey();
const OTHER = secp256k1.utils.randomSecretKey();

/** A confirmed transaction paying denomination + 300 to OWNER's P2WPKH at output 0. */
function ownerTx(): { txid: string; hex: string } {
  const tx = new Transaction({ version: 2 });
  tx.addInput({ txid: new Uint8Array(32).fill(9), index: 0, finalScriptSig: new Uint8Array() });
  tx.addOutput({ script: p2wpkh(secp256k1.getPublicKey(OWNER, true)).script, amount: 1_000_300n });
  return { txid: tx.id, hex: bytesToHex(tx.toBytes(true, false)) };
}

/** Context whose store and node record every call. */
function recordingContext(txid: string, hex: string) {
  const calls: string[] = [];
  const txFacts = new TxFactsCache('regtest', new Uint8Array(32).fill(1), 100, loadNativeSecp256k1());
  txFacts.rememberRaw({ txid, hex, confirmations: 3, time: 1_700_000_000, blockhash: '00'.repeat(32) });
  const ctx: InputValidatorContext = {
    network: 'regtest',
    scodes: [],
    feeAddressAt: () => p2wpkhAddress(secp256k1.getPublicKey(OTHER, true), 'regtest'),
    testMode: true,
    txFacts,
    secp256k1: loadNativeSecp256k1(),
    findPool: (poolId) => (poolId === POOL.id ? POOL : null),
    store: {
      async inputFacts(t) {
        calls.push(`db:inputFacts:${t}`);
        return { ban: null, tx0Whitelisted: false, mixDenominations: [] };
      },
    },
    rpc: {
      async getRawTransaction(t) {
        calls.push(`rpc:getrawtransaction:${t}`);
        return null;
      },
      async getTxOut(t, i) {
        calls.push(`rpc:gettxout:${t}:${i}`);
        return { value: 1_000_300, confirmations: 3, scriptPubKeyHex: '', address: null };
      },
    },
  };
  return { ctx, calls };
}

async function refusal(req: RegisterInputRequest, ctx: InputValidatorContext): Promise<string> {
  try {
    await validateRegisterInput(req, ctx);
  } catch (err) {
    if (err instanceof NotifiableError) return err.message;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('validateRegisterInput order (cheapest first)', () => {
  const { txid, hex } = ownerTx();
  const valid: RegisterInputRequest = {
    poolId: POOL.id,
    utxoHash: txid,
    utxoIndex: 0,
    signature: signMessage(POOL.id, OWNER),
    liquidity: false,
  };

  it('accepts the owner with one database statement and one gettxout', async () => {
    const { ctx, calls } = recordingContext(txid, hex);
    const input = await validateRegisterInput(valid, ctx);
    expect(input).toMatchObject({ txid, index: 0, value: 1_000_300, poolId: POOL.id });
    expect(calls.sort()).toEqual([`db:inputFacts:${txid}`, `rpc:gettxout:${txid}:0`]);
  });

  it('refuses a malformed signature with no database or node call', async () => {
    const { ctx, calls } = recordingContext(txid, hex);
    const garbage = base64.encode(Uint8Array.from({ length: 65 }, (_, i) => (i === 0 ? 31 : 0)));
    for (const signature of [garbage, 'AAAA', base64.encode(new Uint8Array(65).fill(0xff))]) {
      expect(await refusal({ ...valid, signature }, ctx)).toBe('Invalid signature');
    }
    expect(calls).toEqual([]);
  });

  it('refuses a signature by another key for a known transaction with no database or node call', async () => {
    const { ctx, calls } = recordingContext(txid, hex);
    expect(await refusal({ ...valid, signature: signMessage(POOL.id, OTHER) }, ctx)).toBe(
      'Invalid signature',
    );
    // signed over another message (the pool id is the message)
    expect(await refusal({ ...valid, signature: signMessage('other', OWNER) }, ctx)).toBe(
      'Invalid signature',
    );
    expect(calls).toEqual([]);
  });

  it('refuses another pool and a bad outpoint with no database or node call', async () => {
    const { ctx, calls } = recordingContext(txid, hex);
    expect(await refusal({ ...valid, poolId: 'nope' }, ctx)).toBe('Pool not found');
    expect(await refusal({ ...valid, utxoHash: 'zz' }, ctx)).toBe('Invalid utxoHash');
    expect(await refusal({ ...valid, utxoIndex: -1 }, ctx)).toBe('Invalid utxoIndex');
    expect(calls).toEqual([]);
  });

  it('asks the node once about an unknown transaction and never the database', async () => {
    const { ctx, calls } = recordingContext(txid, hex);
    const unknown = 'ab'.repeat(32);
    expect(await refusal({ ...valid, utxoHash: unknown }, ctx)).toBe(`UTXO not found: ${unknown}-0`);
    expect(calls).toEqual([`rpc:getrawtransaction:${unknown}`]);
  });
});
