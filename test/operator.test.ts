import { describe, expect, test } from '@jest/globals';
import { loadConfig } from '../src/config.js';
import { selfObject } from '../src/operator.js';

describe("selfObject: what the operator's own Events (MissingPermission, PermissionGranted) are about", () => {
  test('in a Pod: the Pod, from the downward API (POD_NAME, POD_NAMESPACE, POD_UID)', () => {
    const env = { POD_NAME: 'annotary-7d9f-x2', POD_NAMESPACE: 'annotary-system', POD_UID: 'u-1' };
    expect(selfObject(loadConfig([], env), env)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'annotary-7d9f-x2', namespace: 'annotary-system', uid: 'u-1' },
    });
  });

  test('outside a Pod: the Lease annotary in the leader-election namespace, else POD_NAMESPACE, else default', () => {
    const lease = (namespace: string) => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'annotary', namespace },
    });
    expect(selfObject(loadConfig(['--leader-election-namespace', 'ops'], {}), {})).toEqual(lease('ops'));
    const env = { POD_NAMESPACE: 'annotary-system' };
    expect(selfObject(loadConfig([], env), env)).toEqual(lease('annotary-system'));
    expect(selfObject(loadConfig([], {}), {})).toEqual(lease('default'));
  });
});
