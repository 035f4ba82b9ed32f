// Source Secrets as the Route and Ingress controllers see them in the cache: whole (data
// kept) or lean (digests only, as for Secrets nothing annotates).
import type { SlimData } from '../../src/kube/slim.js';
import { slimDataObject } from '../../src/kube/slim.js';
import type { ChainFixture } from '../pki/fixtures.js';
import { chainFixture } from '../pki/fixtures.js';

export const ec = chainFixture('p256');
export const next = chainFixture('p256', 'rotated');
export const rsa = chainFixture('rsa2048');
export const b64 = (s: string) => Buffer.from(s).toString('base64');

/** a raw Secret as read with GET: whole */
export const full = slimDataObject('Secret', () => 'all');
const lean = slimDataObject('Secret', () => undefined);

export function sourceSecret(
  ns: string,
  name: string,
  pem: Record<string, string>,
  annotations: Record<string, string> = {},
  keep = true,
): SlimData {
  const raw = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns, annotations },
    data: Object.fromEntries(Object.entries(pem).map(([k, v]) => [k, b64(v)])),
  };
  return keep ? full(raw) : lean(raw);
}

/** tls.crt (leaf + intermediate), tls.key, ca.crt of a fixture chain. */
export const tlsPem = (f: ChainFixture = ec) => ({ 'tls.crt': f.certPem(2), 'tls.key': f.keyPkcs8, 'ca.crt': f.ca });
