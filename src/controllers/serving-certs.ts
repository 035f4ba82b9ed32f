// Service serving certificates: `annotary.io/serving-cert-secret: <name>` on a Service (and,
// under --compat, OpenShift service-ca's service.beta/alpha.openshift.io/serving-cert-secret-name)
// → a kubernetes.io/tls Secret <name> beside it that asks the issuing controller for a
// certificate for <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local (and the pod wildcards of a
// headless Service, as service-ca does) from the serving CA: the `ca` issuer --serving-ca names,
// else a self-signed CA annotary creates in --serving-ca-namespace (generate-ca, shared with
// every namespace) and renews like any certificate.
//
// This controller writes only the request (annotations, owner reference to the Service); the
// issuing controller issues and renews. A Secret of that name that this Service does not own
// is the user's: left alone, with a Warning on the Service.
import { A, type AnnotationReader } from '../annotations.js';
import type { Config } from '../config.js';
import { ApiError } from '../kube/client.js';
import { isDnsSubdomain } from '../kube/names.js';
import { isRefusal, refuse, type Refusal } from '../kube/refusal.js';
import type { SlimData } from '../kube/slim.js';
import { objectKey, Secrets, Services, type KubeObject, type ObjectRef } from '../kube/types.js';
import type { ControllerContext, ControllerModule } from './context.js';

export const CONTROLLER = 'serving-certs';
/** The self-signed serving CA's Secret, in --serving-ca-namespace. */
export const SERVING_CA_NAME = 'annotary-serving-ca';
// a Service whose Secret may not be created (403) is looked at again this often: a RoleBinding added later takes effect
const FORBIDDEN_RECHECK_MS = 60_000;

type Service = KubeObject & { spec?: { clusterIP?: string } };

/** Which annotation asked, and the Secret it names. The native key wins over the compat ones. */
export interface ServingRequest {
  secretName: string;
  key: string;
}

const COMPAT_KEYS = [A.scServingCertSecretBeta, A.scServingCertSecretAlpha] as const;

export function servingRequest(a: Record<string, string> | undefined, reader: AnnotationReader): ServingRequest | Refusal | undefined {
  const key = [A.servingCertSecret, ...COMPAT_KEYS].find((k) => reader.get(a, k) !== undefined);
  if (!key) return undefined;
  const secretName = reader.get(a, key)!.trim();
  if (!isDnsSubdomain(secretName)) return refuse('InvalidAnnotation', `${key}: "${secretName}" is not a Secret name`);
  return { secretName, key };
}

/** The CA Secret serving certificates come from: --serving-ca, else annotary's own self-signed one. */
export function servingCaRef(config: Pick<Config, 'servingCa' | 'servingCaNamespace'>, podNamespace: string | undefined) {
  if (config.servingCa) {
    // checked by the flag's parser: <namespace>/<secret>
    const [namespace, name] = config.servingCa.split('/');
    return { namespace, name, selfSigned: false };
  }
  return { namespace: config.servingCaNamespace || podNamespace || 'default', name: SERVING_CA_NAME, selfSigned: true };
}

/** The names of a Service's serving certificate (service-ca's certSubjectsForService). */
export function servingNames(svc: Service): string[] {
  const host = `${svc.metadata.name}.${svc.metadata.namespace}.svc`;
  const names = [host, `${host}.cluster.local`];
  if (svc.spec?.clusterIP === 'None') names.push(`*.${host}`, `*.${host}.cluster.local`);
  return names;
}

/** The annotations of the serving Secret: the request, and what service-ca writes for its keys. */
export function servingAnnotations(svc: Service, req: ServingRequest, ca: { namespace: string; name: string }): Record<string, string> {
  const compat: Record<string, string> =
    req.key === A.scServingCertSecretBeta
      ? { [A.scOriginatingServiceNameBeta]: svc.metadata.name, [A.scOriginatingServiceUidBeta]: svc.metadata.uid ?? '' }
      : req.key === A.scServingCertSecretAlpha
        ? { [A.scOriginatingServiceNameAlpha]: svc.metadata.name, [A.scOriginatingServiceUidAlpha]: svc.metadata.uid ?? '' }
        : {};
  return {
    [A.issuer]: `${ca.namespace}/${ca.name}`,
    [A.dnsNames]: servingNames(svc).join(','),
    [A.usages]: 'server',
    ...compat,
  };
}

const ownedBy = (secret: KubeObject, svc: Service) =>
  (secret.metadata.ownerReferences ?? []).some((r) => r.kind === 'Service' && r.uid === svc.metadata.uid);

export type ServingChange = { create: KubeObject } | { patch: Record<string, unknown> };

/** What the Service's serving Secret should become: created, its request annotations set, nothing, or refused. */
export function desiredServingSecret(
  svc: Service,
  req: ServingRequest,
  existing: SlimData | undefined,
  ca: { namespace: string; name: string },
): ServingChange | Refusal | undefined {
  const want = servingAnnotations(svc, req, ca);
  if (!existing) {
    return {
      create: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: req.secretName,
          namespace: svc.metadata.namespace,
          annotations: want,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name, uid: svc.metadata.uid ?? '' }],
        },
        type: 'kubernetes.io/tls',
        // a kubernetes.io/tls Secret must have both keys; empty until the issuing controller fills them
        data: { 'tls.crt': '', 'tls.key': '' },
      },
    };
  }
  if (!ownedBy(existing, svc))
    return refuse(
      'CertificateNotOwned',
      `Secret "${req.secretName}" exists and was not made by annotary for this Service (${req.key}): left alone; delete it or name another`,
    );
  const cur = existing.metadata.annotations ?? {};
  const diff = Object.fromEntries(Object.entries(want).filter(([k, v]) => cur[k] !== v));
  if (!Object.keys(diff).length) return undefined;
  return { patch: { metadata: { resourceVersion: existing.metadata.resourceVersion, annotations: diff } } };
}

/** The self-signed serving CA's Secret, made once: the issuing controller generates and renews the CA. */
export function servingCaSecret(ca: { namespace: string; name: string }): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: ca.name,
      namespace: ca.namespace,
      annotations: { [A.generateCa]: 'true', [A.commonName]: 'annotary-serving-ca', [A.shareWithNamespaces]: '*' },
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': '', 'tls.key': '' },
  };
}

export const servingCertsController: ControllerModule = {
  name: CONTROLLER,
  declare(ctx: ControllerContext) {
    const { caches, annotations: reader, config } = ctx;
    const services = caches.of(Services);
    const secrets = caches.secrets();
    const write = ctx.writer(CONTROLLER);
    const ca = servingCaRef(config, process.env.POD_NAMESPACE);

    const secretRefs = (svc: KubeObject): ObjectRef[] => {
      const req = servingRequest(svc.metadata.annotations, reader);
      const refs: ObjectRef[] = ca.selfSigned ? [{ kind: 'Secret', namespace: ca.namespace, name: ca.name }] : [];
      return req && !isRefusal(req) ? [...refs, { kind: 'Secret', namespace: svc.metadata.namespace ?? '', name: req.secretName }] : refs;
    };

    /**
     * Creating a Secret. The install grants that only in the namespaces it lists (a RoleBinding to
     * the serving-certs ClusterRole, docs/operations.md#permissions); elsewhere the apiserver
     * answers 403: a refusal saying what is missing and where, not an error to retry with backoff.
     */
    const create = async (namespace: string, obj: KubeObject): Promise<Refusal | undefined> => {
      try {
        return await write.create(Secrets, namespace, obj);
      } catch (err) {
        if (!(err instanceof ApiError && err.isForbidden)) throw err;
        return refuse(
          'ServingCertForbidden',
          `annotary may not create Secret "${obj.metadata.name}" in namespace "${namespace}": serving certificates need create on ` +
            'secrets there, from a RoleBinding to the serving-certs ClusterRole (overlays/serving-certs, Helm servingCerts.namespaces)',
        );
      }
    };

    return [
      {
        name: CONTROLLER,
        for: services,
        filter: (s) => servingRequest(s.metadata.annotations, reader) !== undefined,
        // the serving Secret deleted or taken over, the self-signed CA deleted: looked at again
        watches: [{ source: secrets, refsOf: secretRefs }],
        async reconcile({ namespace, name }) {
          const svc = services.get(objectKey(namespace, name));
          if (!svc || svc.metadata.deletionTimestamp) return;
          const req = servingRequest(svc.metadata.annotations, reader);
          if (req === undefined) return;
          if (isRefusal(req)) return write.warn(svc, req);
          const refused = (r: Refusal) => {
            write.warn(svc, r);
            return r.reason === 'ServingCertForbidden' ? { requeueAfterMs: FORBIDDEN_RECHECK_MS } : undefined;
          };
          if (ca.selfSigned && !secrets.get(objectKey(ca.namespace, ca.name))) {
            const rejected = await create(ca.namespace, servingCaSecret(ca));
            if (rejected) return refused(rejected);
          }
          const change = desiredServingSecret(svc, req, secrets.get(objectKey(namespace, req.secretName)), ca);
          if (change === undefined) return;
          if (isRefusal(change)) return write.warn(svc, change);
          const rejected =
            'create' in change
              ? await create(namespace, change.create)
              : await write.patch(Secrets, secrets.get(objectKey(namespace, req.secretName))!, change.patch);
          if (rejected) return refused(rejected);
        },
      },
    ];
  },
};
