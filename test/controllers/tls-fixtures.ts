// The chains the Route and Ingress controller tests use, and the two views of a source Secret
// those controllers get from the cache: whole (data kept) or lean (digests only, as for
// Secrets nothing annotates). The Secrets themselves come from test/gen.ts.
import { slimDataObject } from '../../src/kube/slim.js';
import { chainFixture } from '../pki/fixtures.js';

export const ec = chainFixture('p256');
export const next = chainFixture('p256', 'rotated');
export const rsa = chainFixture('rsa2048');

/** a raw Secret as read with GET: whole */
export const full = slimDataObject('Secret', () => 'all');
/** a Secret as the cache holds it when nothing annotates it: digests only */
export const lean = slimDataObject('Secret', () => undefined);
