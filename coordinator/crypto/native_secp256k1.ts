/**
 * The coordinator's {@link Secp256k1} on libsecp256k1 through the `secp256k1`
 * npm package (cryptocoinjs/secp256k1-node, a Node-API binding of Bitcoin
 * Core's library). The mix engine injects it; everything in `shared/` keeps
 * the portable @noble/curves implementation by default.
 *
 * Why this binding (measured side by side, 2,000 operations each, Node 22 on
 * this 2-core machine — see docs/operations.md "Crypto backend"):
 *
 * | operation          | @noble/curves | tiny-secp256k1 (WASM) | secp256k1 (native) |
 * |--------------------|---------------|-----------------------|--------------------|
 * | recover public key | ~1,100 µs     | ~200 µs               | ~50 µs             |
 * | ECDSA verify (DER) | ~1,060 µs     | ~170 µs               | ~45 µs             |
 * | ECDH               | ~1,790 µs     | ~150 µs               | ~45 µs             |
 *
 * - speed: the native binding is 3–4× the WASM build and 20–35× noble;
 * - install without a compiler: the package ships Node-API prebuilds for
 *   linux-x64 (glibc and musl), darwin-arm64 and win32-x64, loaded at run
 *   time by node-gyp-build, so a fresh `npm ci` needs no toolchain;
 * - npm 11's install-script policy: its only script (`node-gyp-build ||
 *   exit 0`, a compile fallback) is denied in package.json `allowScripts`;
 *   nothing needs to run at install on those platforms.
 *
 * We load `secp256k1/bindings` (the native addon only), not the package's
 * main entry: the latter silently falls back to the pure-JS `elliptic` when
 * the addon does not load, which would hide a 30× regression. A platform
 * without a prebuild therefore fails loudly in {@link loadNativeSecp256k1};
 * the caller may then choose {@link nobleSecp256k1} explicitly.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { isPublicKeyEncoding, type Secp256k1 } from '#shared/crypto/secp256k1.ts';

/** The part of the `secp256k1` package API used here (it ships no types). */
interface SecpBinding {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
  signatureImport(der: Uint8Array): Uint8Array;
  publicKeyTweakMul(pubkey: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
}

let cached: Secp256k1 | null = null;

/**
 * Returns the libsecp256k1 {@link Secp256k1} (loaded once). Throws with the
 * loader's reason when the native addon is not available on this platform.
 */
export function loadNativeSecp256k1(): Secp256k1 {
  if (cached) return cached;
  let binding: SecpBinding;
  try {
    binding = createRequire(import.meta.url)('secp256k1/bindings') as SecpBinding;
  } catch (err) {
    throw new Error(
      `Cannot load the libsecp256k1 addon (secp256k1 package, ${process.platform}-${process.arch}); set WHIRLPOOL_SECP256K1=noble to run on the portable implementation`,
      { cause: err },
    );
  }
  cached = nativeSecp256k1(binding);
  return cached;
}

function nativeSecp256k1(lib: SecpBinding): Secp256k1 {
  return {
    name: 'libsecp256k1',
    recoverPublicKey(digest, compactSignature, recovery, compressed) {
      try {
        if (!Number.isInteger(recovery)) return null;
        return lib.ecdsaRecover(compactSignature, recovery, digest, compressed);
      } catch {
        return null;
      }
    },
    verifyDerLowS(der, digest, publicKey) {
      try {
        // libsecp256k1 also parses hybrid (0x06/0x07) keys: refused here like noble does.
        if (!isPublicKeyEncoding(publicKey)) return false;
        // libsecp256k1 accepts only lower-S signatures in secp256k1_ecdsa_verify.
        return lib.ecdsaVerify(lib.signatureImport(der), digest, publicKey);
      } catch {
        return false;
      }
    },
    ecdhX(privateKey, publicKey) {
      if (!isPublicKeyEncoding(publicKey)) throw new Error('Invalid public key encoding');
      return lib.publicKeyTweakMul(publicKey, privateKey, true).slice(1);
    },
  };
}
