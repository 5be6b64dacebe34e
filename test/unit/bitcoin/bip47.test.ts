import { bytesToHex } from '@noble/hashes/utils.js';
import { mnemonicToSeedSync } from '@scure/bip39';
import { describe, expect, it } from 'vitest';
import { bip47AccountFromSeed, notificationPubKeyFromPaymentCode } from '#shared/bitcoin/bip47.ts';
import { DecodeError } from '#shared/errors.ts';

const ALL = 'all all all all all all all all all all all all';

describe('BIP47 account (spec §4.6.3, §8.3, §8.6)', () => {
  it('derives the test secret wallet (all×12 / whirlpool, testnet)', () => {
    const account = bip47AccountFromSeed(mnemonicToSeedSync(ALL, 'whirlpool'), 'testnet');
    expect(account.paymentCode).toBe(
      'PM8TJXp19gCE6hQzqRi719FGJzF6AreRwvoQKLRnQ7dpgaakakFns22jHUqhtPQWmfevPQRCyfFbdDrKvrfw9oZv5PjaCerQMa3BKkPyUf9yN1CDR3w6',
    );
    expect(bytesToHex(account.notificationPubKey)).toBe(
      '02a3b025ab9bc75c1e35c8d6ac8b7f79288a3bd41b752dac2d747c29e598c79a4d',
    );
    expect(bytesToHex(account.notificationPrivKey)).toBe(
      'db4a3cbae4ee4fb8ba34b55ced3d219131db917b21ff002f3a431d996f3f4449',
    );
  });

  it('derives the XorMask test wallet (all×12 / test, testnet)', () => {
    const account = bip47AccountFromSeed(mnemonicToSeedSync(ALL, 'test'), 'testnet');
    expect(account.paymentCode).toBe(
      'PM8TJgqKqMesJ52RveEtE6qLKjKqWVB4dMormiywD2hwAGd3MiGxvurnFC6jMFS4hPa2Xb9JUWJYryty5Q9osQ3ELxgGpVMrERpFbNXfe9Th3nAwHfag',
    );
    expect(bytesToHex(account.notificationPrivKey)).toBe(
      '725f8de3f2f5d6b064660309a398d0c4b193b53df8dc538ffdd4d279c43fa01f',
    );
    expect(bytesToHex(account.notificationPubKey)).toBe(
      '02631b285dbecd7ef9d1445bfd88e99d3f9699a45d05b749b3a1a699dfc3bdfb26',
    );
  });

  it('recovers the notification public key from the payment code alone', () => {
    for (const passphrase of ['whirlpool', 'test']) {
      const account = bip47AccountFromSeed(mnemonicToSeedSync(ALL, passphrase), 'testnet');
      expect(bytesToHex(notificationPubKeyFromPaymentCode(account.paymentCode))).toBe(
        bytesToHex(account.notificationPubKey),
      );
    }
  });

  it('uses coin type 0 on mainnet and other accounts when asked', () => {
    const seed = mnemonicToSeedSync(ALL, 'whirlpool');
    const main = bip47AccountFromSeed(seed, 'mainnet');
    const test = bip47AccountFromSeed(seed, 'testnet');
    expect(main.paymentCode).toMatch(/^PM8T/);
    expect(main.paymentCode).not.toBe(test.paymentCode);
    expect(bip47AccountFromSeed(seed, 'regtest').paymentCode).toBe(test.paymentCode);
    expect(bip47AccountFromSeed(seed, 'testnet', 1).paymentCode).not.toBe(test.paymentCode);
    expect(() => bip47AccountFromSeed(seed, 'testnet', -1)).toThrow(RangeError);
  });

  it('throws DecodeError on malformed payment codes', () => {
    const good = bip47AccountFromSeed(mnemonicToSeedSync(ALL, 'test'), 'testnet').paymentCode;
    const bad = [
      '',
      'PM8T',
      `${good.slice(0, -1)}${good.endsWith('g') ? 'h' : 'g'}`, // checksum
      '1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH', // a base58check address
      'not base58 0OIl',
    ];
    for (const pc of bad) expect(() => notificationPubKeyFromPaymentCode(pc)).toThrow(DecodeError);
  });
});
