// Reference discovery: "auto" reload modes watch exactly the Secrets and ConfigMaps the pod
// template uses, wherever it uses them.
import fc from 'fast-check';
import type { PodSpecLike } from '../../src/controllers/pod-refs.js';
import { podTemplateRefs } from '../../src/controllers/pod-refs.js';

describe('reference discovery from pod specs', () => {
  it('finds volumes, projected volumes, env valueFrom and envFrom in containers and initContainers', () => {
    const spec: PodSpecLike = {
      volumes: [
        { secret: { secretName: 'tls' } },
        { configMap: { name: 'settings' } },
        { projected: { sources: [{ secret: { name: 'proj-s' } }, { configMap: { name: 'proj-c' } }, {}] } },
        {}, // emptyDir and friends
      ],
      containers: [
        {
          env: [{ valueFrom: { secretKeyRef: { name: 'db' } } }, { valueFrom: { configMapKeyRef: { name: 'flags' } } }, {}],
          envFrom: [{ secretRef: { name: 'env-s' } }, { configMapRef: { name: 'env-c' } }],
        },
      ],
      initContainers: [{ env: [{ valueFrom: { secretKeyRef: { name: 'init-s' } } }], envFrom: [{ configMapRef: { name: 'init-c' } }] }],
    };
    expect(podTemplateRefs(spec).map((r) => `${r.kind}/${r.name}`)).toEqual([
      'ConfigMap/env-c',
      'ConfigMap/flags',
      'ConfigMap/init-c',
      'ConfigMap/proj-c',
      'ConfigMap/settings',
      'Secret/db',
      'Secret/env-s',
      'Secret/init-s',
      'Secret/proj-s',
      'Secret/tls',
    ]);
  });

  it('an empty or absent spec references nothing', () => {
    expect(podTemplateRefs(undefined)).toEqual([]);
    expect(podTemplateRefs({})).toEqual([]);
    expect(podTemplateRefs({ volumes: [{ secret: {} }], containers: [{ envFrom: [{ secretRef: {} }] }] })).toEqual([]);
  });

  it('a Secret and a ConfigMap of the same name are two references', () => {
    expect(podTemplateRefs({ volumes: [{ secret: { secretName: 'x' } }, { configMap: { name: 'x' } }] })).toEqual([
      { kind: 'ConfigMap', name: 'x', optional: false },
      { kind: 'Secret', name: 'x', optional: false },
    ]);
  });

  it('a reference is optional only when every use of it is optional', () => {
    const opt = podTemplateRefs({
      volumes: [{ secret: { secretName: 'a', optional: true } }],
      containers: [{ envFrom: [{ secretRef: { name: 'a', optional: true } }] }],
    });
    expect(opt).toEqual([{ kind: 'Secret', name: 'a', optional: true }]);
    const mixed = podTemplateRefs({
      volumes: [{ secret: { secretName: 'a', optional: true } }],
      containers: [{ envFrom: [{ secretRef: { name: 'a' } }] }],
    });
    expect(mixed).toEqual([{ kind: 'Secret', name: 'a', optional: false }]);
  });

  it('each object once, sorted, whatever the order and repetition of uses (property)', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd');
    const use = fc.oneof(
      name.map((n) => ({ volume: { secret: { secretName: n } } })),
      name.map((n) => ({ volume: { configMap: { name: n } } })),
      name.map((n) => ({ env: { valueFrom: { secretKeyRef: { name: n } } } })),
      name.map((n) => ({ envFrom: { configMapRef: { name: n } } })),
    );
    fc.assert(
      fc.property(fc.array(use, { maxLength: 12 }), (uses) => {
        const build = (list: typeof uses): PodSpecLike => ({
          volumes: list.flatMap((u) => ('volume' in u ? [u.volume] : [])),
          containers: [
            { env: list.flatMap((u) => ('env' in u ? [u.env] : [])), envFrom: list.flatMap((u) => ('envFrom' in u ? [u.envFrom] : [])) },
          ],
        });
        const refs = podTemplateRefs(build(uses));
        expect(podTemplateRefs(build([...uses].reverse()))).toEqual(refs);
        const ids = refs.map((r) => `${r.kind}/${r.name}`);
        expect(ids).toEqual([...new Set(ids)].sort());
      }),
    );
  });
});
