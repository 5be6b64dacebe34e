/**
 * Tx0 partners (addendum §4.2): a wallet vendor identified by the
 * `partnerId` of `POST /rest/tx0[/v1]`, written into the fee payload as a
 * 2-byte partner payload and found back by that payload when a Tx0 is
 * validated. Each partner has its own family of fee addresses (the
 * reference's XManager service; here a fee account of the secret wallet).
 *
 * @module
 */
import { PARTNER_ID_SAMOURAI } from './constants.ts';

/** One configured partner. */
export interface PartnerConfig {
  /** Matched exactly (case-sensitive) against `partnerId`. */
  id: string;
  /** Partner payload, int16 ≥ 0, written at fee payload offset 8; 0 = the default partner. */
  payload: number;
}

/**
 * Partners configured when the pools file names none: the reference's test
 * configuration (`SAMOURAI` → 0, the default of every whirlpool-client and
 * the implicit partner of G0–G2 Tx0s; `SPARROW` → 1, Sparrow/nightjar).
 */
export const DEFAULT_PARTNERS: readonly PartnerConfig[] = [
  { id: PARTNER_ID_SAMOURAI, payload: 0 },
  { id: 'SPARROW', payload: 1 },
];

/** `partnerId` of a request as the reference normalises it: absent, `""` and `"null"` → `SAMOURAI`. */
export function normalizePartnerId(raw: string | null | undefined): string {
  if (raw === null || raw === undefined || raw === '' || raw === 'null') return PARTNER_ID_SAMOURAI;
  return raw;
}

/** The partner with this exact id, or null. */
export function findPartnerById(partners: readonly PartnerConfig[], id: string): PartnerConfig | null {
  return partners.find((p) => p.id === id) ?? null;
}

/** The partner with this payload, or null. */
export function findPartnerByPayload(
  partners: readonly PartnerConfig[],
  payload: number,
): PartnerConfig | null {
  return partners.find((p) => p.payload === payload) ?? null;
}
