import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Z85_ALPHABET, z85Decode, z85Encode } from '#shared/codec/z85.ts';
import { DecodeError } from '#shared/errors.ts';

/** Spec §8.4 table. */
const VECTORS: Array<[string, string]> = [
  ['', ''],
  ['00', '00'],
  ['01', '0r'],
  ['000102', '009c'],
  ['864fd26fb559f75b', 'HelloWorld'],
  ['ffffffffff', '%nSc0@@'],
  ['00010203040506070809', '009c61o!#m2NH'],
  ['3039', 'fGx'],
  ['04d2', '1KW'],
  ['8000', 'Fb/'],
  ['7fff', 'FbY'],
  ['ffff', '%nJ'],
  // Samourai's variant drops trailing characters of a zero-padded group
  // ('HelloWorld' prefixes); CoenM's Z85Extended ('b5' → '2b') is a different scheme.
  ['b5', 'We'],
  ['b559', 'Woi'],
  ['b559f7', 'Work'],
];

/** ExtLibJ Z85Test: Bitcoin whitepaper abstract + `1234567890-_)({(@` (1137 bytes). */
const WHITEPAPER_TEXT =
  "A purely peer-to-peer version of electronic cash would allow online payments to be sent directly from one party to another without going through a financial institution. Digital signatures provide part of the solution, but the main benefits are lost if a trusted third party is still required to prevent double-spending. We propose a solution to the double-spending problem using a peer-to-peer network. The network timestamps transactions by hashing them into an ongoing chain of hash-based proof-of-work, forming a record that cannot be changed without redoing the proof-of-work. The longest chain not only serves as proof of the sequence of events witnessed, but proof that it came from the largest pool of CPU power. As long as a majority of CPU power is controlled by nodes that are not cooperating to attack the network, they'll generate the longest chain and outpace attackers. The network itself requires minimal structure. Messages are broadcast on a best effort basis, and nodes can leave and rejoin the network at will, accepting the longest proof-of-work chain as proof of what happened while they were gone.1234567890-_)({(@";
const WHITEPAPER_Z85 =
  'k{gb?A+f6jaAg[6AXhxKePtojAV/KpA=U@kzxJ>faz2w2v@#:fzFrP6v{%B(aA}:Dy?aU%y&13laA8dlx(mG8Aaa3ewO#QhaARJAvR3W6wO#Pjwnc6}v@#KjazbUjz6i+mwGU@2A==NHBz&pgzF%SgwPw]qx([3bB-X:sz!T94aARpqz/]YaayMy8x(mu%v}/v/azC.mBzk&tBzkVhe*9L@xk8D@y-)!kxkRd1B-I5maAhvtC4>F#aAg+fBrCHlaARpdaAIEqB-.tozy=]tB-X:FxK@r6vqfQ4vR6B*w[=vdayPq4az+$qBrCpfayMymA=(CBwN({9xLzG$aAg+fBA]0yB0bKCx(4PdA+flkx(W=}aARJAAb]JkwO#Pjwn=Q1y?khtAaJ]$x(mMoaxJa%Ab](oz/YFjvixSfy&%&lz/cXtzY<dnwGUJ4BZ/e#ePU(xzE^E0xcqelz^)J]z6i$xx(mMavixJ2wPxwAz.k{twPw]hwPScmA+^oIra]?=zE){lz/PRoBzkP6B97&cAc0dzA:-<bvpKy[z/fRsvTf8fvrl9@zF78lxK#36x(n3hayPdgz/fiax(mMav}Yp+zxJ>fazth8xF0X4B7F(8Ab](nw?v}keQ8bNyB*Puz/PYezF782aAz46z/PwhBzb98ay!?$zF%RtvR3V(xKL^>wN({cx([3bB-X:DwN]Z[zF78lxK@r9A=k(dePkkMCw?Iqe*abbwGU/czF9K4BrC7bvqfQ4zF%Rtz/fxpaAIamC4C.qvriMgA=k(daA7<mBzbkdB7GulwO#0?aA7<mwP?T5BAnNGx([l7B8$]6efFzABrCKyz/okgBzb98azC{uv{%j=azbUjz6i}lwGU!$A+w%8BrCKvz!{Lmw/%DqruMm0Cv+!Eavg5>y&si7ayPslvixz}yhXcbBA]0Ew/%DqruMm0Cv+!qx(+zbz/fVqz!%l3wftubaz#adwPF#oxKM09vrb{4zF%Rtv@Dp8wPzj3x(mMaBz&pgBAy@3yAN.jwGU(4BA.UzyB*PIxK#Dpy?$kbwO#71vru66Bzbkdy&si7wPI@ov}Yp+zxJw9wft/kBz$U#wGUA6BywV{wPz&Aaxi2=az$+jCw?IqazC}swO+%3A+flkx(W^aaz>?gx(do{aAITBBZ]JoA+c<Co>wx!vp%d)ayPq4ayYwfvpS>RB95KyzxJvgvR6R5az2d%z/P}xvQTs(B1wCxzE:(cz!9B2ay!?$az+Q$C4z!8zE:(gwOMc$zxK4mwGU(4BA.UzyAN5caA}Koy+cYqv}f7?BzkS9aARpdaz+$lxjVdaaAhvtz!pOtw?wjBA+=!cxKLQ)ayPslAb](nw/#27aA}HcBrCm9AbYxawN({cxLzo]aARpdC{4rxA+cwaz/fbsf!$Kwh8WxMiwr3(djxJ>kM';

describe('z85Encode / z85Decode', () => {
  for (const [hex, text] of VECTORS) {
    it(`encodes ${hex || '(empty)'} as ${text || '(empty)'} and back`, () => {
      expect(z85Encode(hexToBytes(hex))).toBe(text);
      expect(bytesToHex(z85Decode(text))).toBe(hex);
    });
  }

  it('encodes the 1137-byte whitepaper vector to the 1422-character string and back', () => {
    const bytes = new TextEncoder().encode(WHITEPAPER_TEXT);
    expect(bytes.length).toBe(1137);
    expect(WHITEPAPER_Z85.length).toBe(1422);
    expect(z85Encode(bytes)).toBe(WHITEPAPER_Z85);
    expect(new TextDecoder().decode(z85Decode(WHITEPAPER_Z85))).toBe(WHITEPAPER_TEXT);
  });

  it('has output length ceil(len * 5 / 4) and round-trips for every length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (bytes) => {
        const text = z85Encode(bytes);
        expect(text.length).toBe(Math.ceil((bytes.length * 5) / 4));
        expect(z85Decode(text)).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every length from 0 to 300 exactly', () => {
    for (let len = 0; len <= 300; len++) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 37 + len) & 0xff);
      expect(z85Decode(z85Encode(bytes))).toEqual(bytes);
    }
  });

  it('decodes groups modulo 2^32 like the reference', () => {
    // '#####' = 85^5 - 1 = 4437053124 ≡ 0x08780ec4 (mod 2^32)
    expect(bytesToHex(z85Decode('#####'))).toBe('08780ec4');
  });

  it('throws DecodeError on characters outside the alphabet', () => {
    expect(() => z85Decode('Hello World')).toThrow(DecodeError);
    expect(() => z85Decode('abc"')).toThrow(/z85: Invalid character/);
    expect(() => z85Decode('é')).toThrow(DecodeError);
  });

  it('throws only DecodeError on random strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        try {
          const out = z85Decode(text);
          // success only if every character is in the alphabet
          expect([...text].every((c) => Z85_ALPHABET.includes(c))).toBe(true);
          const pad = (5 - (text.length % 5)) % 5;
          expect(out.length).toBe(((text.length + pad) / 5) * 4 - pad);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
