// CA rotation without a failed handshake, per issued Secret, as a pure state machine.
//
// When the CA that issued a Secret's leaf changes (its CA Secret's tls.crt: a new key, or a
// renewed generated CA), the Secret goes through three writes, a grace period apart:
//   1. trust-both: ca.crt = new CA + the CAs it trusted so far; the leaf stays (signed by the old
//      CA, which every peer still trusts). Truststores, Routes' destination CA and injected
//      bundles built from ca.crt now accept leaves of either CA.
//   2. reissued: after the grace period (time for every peer to load the new bundle) the leaf is
//      re-issued by the new CA; ca.crt still holds both, for peers whose leaf is not re-issued yet.
//   3. drop-old: after another grace period ca.crt holds the new CA alone.
// Each Secret keeps its own clock (the step's start, recorded with the step), so Secrets whose
// CA changed a little apart rotate a little apart, and every leaf of the new CA is trusted by
// every peer before it is served: the Secret that noticed last reached trust-both less than a
// grace period after the first, so before the first re-issued. A CA that changes again mid-way
// starts over at trust-both, with the union of every CA trusted so far.

export type RotationStage = 'trust-both' | 'reissued';

export interface RotationState {
  stage: RotationStage;
  /** when the stage began (ms since the epoch) */
  sinceMs: number;
}

export interface RotationInput {
  /** identity of the CA that issued the leaf in place (recorded at issuance) */
  issuedCa: string;
  /** identity of the issuer's CA now */
  currentCa: string;
  rotation: RotationState | undefined;
  nowMs: number;
  graceMs: number;
}

export type RotationStep =
  | { step: 'none' }
  | { step: 'wait'; ms: number }
  /** write ca.crt = new CA ∪ the bundle in place; record { trust-both, now } */
  | { step: 'trust-both' }
  /** issue a new leaf from the new CA, ca.crt still both; record { reissued, now } */
  | { step: 'reissue' }
  /** write ca.crt = the new CA alone; clear the rotation */
  | { step: 'drop-old' };

export function rotationStep(i: RotationInput): RotationStep {
  const caChanged = i.issuedCa !== i.currentCa;
  const left = (r: RotationState) => r.sinceMs + i.graceMs - i.nowMs;
  if (!i.rotation) return caChanged ? { step: 'trust-both' } : { step: 'none' };
  if (i.rotation.stage === 'trust-both') {
    // the leaf is still the old CA's (or the CA changed back: re-issuing is harmless, nothing is dropped early)
    const ms = left(i.rotation);
    return ms > 0 ? { step: 'wait', ms } : { step: 'reissue' };
  }
  // reissued: the leaf is the new CA's, unless the CA changed again since
  if (caChanged) return { step: 'trust-both' };
  const ms = left(i.rotation);
  return ms > 0 ? { step: 'wait', ms } : { step: 'drop-old' };
}
