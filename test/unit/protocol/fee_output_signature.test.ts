/**
 * `feeOutputSignature` (addendum §4.8) against §9.7 / §9.8: the serialised
 * output, the pre-hash and the base64 signature of the reference's tests.
 */

import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { HDKey } from '@scure/bip32';
import { mnemonicToSeedSync } from '@scure/bip39';
import { WIF } from '@scure/btc-signer';
import { describe, expect, it } from 'vitest';
import {
  bytesMessageDigest,
  serializeTxOutput,
  signFeeOutput,
  signingAddress,
  verifyFeeOutputSignature,
} from '#shared/protocol/fee_output_signature.ts';

const SIGNING_WORDS = 'income wisdom battle label wolf confirm shoulder tumble ecology current news taste';

function testSigningKey(): Uint8Array {
  return HDKey.fromMasterSeed(mnemonicToSeedSync(SIGNING_WORDS, 'Test@K3y')).derive("m/44'/1'/0'/0/0")
    .privateKey!;
}

describe('feeOutputSignature (addendum §9.7, §9.8)', () => {
  it('serializeOutput', () => {
    expect(
      bytesToHex(serializeTxOutput('bc1qcca6rvztksfp9qpqfl2zp0w9g8s76nm4de954y', 42500, 'mainnet')),
    ).toBe('04a6000000000000160014c63ba1b04bb4121280204fd420bdc541e1ed4f75');
  });

  it('signTransactionOutput_1 (mainnet WIF key)', () => {
    const priv = WIF().decode('L3oTDdoxFDTZJcndCvCz5i7n34MjTG6iSSyYDPcXeoJvnDkMBavS');
    const bytes = serializeTxOutput('bc1q8yxgcltjgu6zekqspuhk7acdvht8pevwal23ye', 42500, 'mainnet');
    expect(bytesToHex(bytes)).toBe('04a6000000000000160014390c8c7d7247342cd8100f2f6f770d65d670e58e');
    expect(bytesToHex(bytesMessageDigest(bytes))).toBe(
      '8e27a1795f45b0a8c87b5ea4a77cd0dfd57e58cdb724fced5db1cdf8f6f23ca3',
    );
    expect(signingAddress(secp256k1.getPublicKey(priv, true), 'mainnet')).toBe(
      '1PWJ3QckGV921bZrrMwQXokhxXsUrKD3wt',
    );
    const sig = signFeeOutput('bc1q8yxgcltjgu6zekqspuhk7acdvht8pevwal23ye', 42500, 'mainnet', priv);
    expect(sig).toBe(
      'H1wBU1SJnkQ8K4QDn36TVQ9xYwKbF0zh2Ooqd+pKxqdrEiG7uWDGIFSNKyJanwlNFcB1XWrdhp+hyAYucTyPxM0=',
    );
  });

  it('signTransactionOutput_2 (test signing wallet, upper-case bech32)', () => {
    const priv = testSigningKey();
    expect(signingAddress(secp256k1.getPublicKey(priv, true), 'testnet')).toBe(
      'mi42XN9J3eLdZae4tjQnJnVkCcNDRuAtz4',
    );
    const address = 'TB1QHH2PDL203J27ACMFDPHRLHE3UHL7F7W5NXVYTT';
    expect(bytesToHex(bytesMessageDigest(serializeTxOutput(address, 42500, 'testnet')))).toBe(
      '41ac962525d867004e034ce22327c8ea5f5c57ea96e39502339c146fc306556c',
    );
    expect(signFeeOutput(address, 42500, 'testnet', priv)).toBe(
      'H+LHNMd4uOy5Nr/iMQqW+4IifA5v7WPQFnoxuoBQw0++aMFfeuYl1PFUXnKHqqotYg8oDvtcpA0ZhwGS+suGPAU=',
    );
  });

  it('§9.8 Tx0Data signatures, verified against the signing address', () => {
    const priv = testSigningKey();
    const fee = 'tb1qcaerxclcmu9llc7ugh65hemqg6raaz4sul535f';
    const rows: Array<[number, string]> = [
      [42500, 'IP9Jwgv4XBO+6LBPNt9j7Pv7s2+9Ze2DI4T6Xc6Zzda3C77Ux/3vDn30tBtBeecSDvityNVqJ4OY0RUt3r4Os/4='],
      [975000, 'IMDZOTLmom8CBSSqKjX4CaLUEFyPJVS7SA/wqKH4drKjaIvsiDol681rjBKbvquJzfaIOBhrVJeg5VzUrrCeXLc='],
    ];
    for (const [value, expected] of rows) {
      const sig = signFeeOutput(fee, value, 'testnet', priv);
      expect(sig).toBe(expected);
      expect(verifyFeeOutputSignature(fee, value, sig, 'mi42XN9J3eLdZae4tjQnJnVkCcNDRuAtz4', 'testnet')).toBe(
        true,
      );
      expect(
        verifyFeeOutputSignature(fee, value + 1, sig, 'mi42XN9J3eLdZae4tjQnJnVkCcNDRuAtz4', 'testnet'),
      ).toBe(false);
    }
    expect(verifyFeeOutputSignature(fee, 1, 'garbage', 'mi42XN9J3eLdZae4tjQnJnVkCcNDRuAtz4', 'testnet')).toBe(
      false,
    );
  });
});
