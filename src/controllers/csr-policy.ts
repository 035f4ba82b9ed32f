// What annotary signs as a CSR signer, and what it approves by itself. Pure: the CSR's
// requester, names and usages in, a verdict out (unit-tested in test/controllers/csr-policy.test.ts).
//
// Signing (after anyone's approval) is bounded by the CA Secret's allowed usages: a request for
// a CA (CA:TRUE, certificate or CRL signing) is never signed, nor usages other than TLS server
// and client authentication (and the key usages those imply).
//
// Approval by annotary itself is off unless the CA Secret names who may get certificates
// (ServiceAccounts of some namespaces and/or some usernames) and under which DNS suffixes. A
// request it approves carries at least one name, every DNS name and its CN under a suffix, no
// IP address, and allowed usages; anything else waits for a human (`kubectl certificate approve`).
import { A } from '../annotations.js';
import type { Refusal } from '../kube/refusal.js';
import { isDnsLabel, isDnsSubdomain } from '../kube/names.js';
import { isRefusal, refuse } from '../kube/refusal.js';
import type { CertificateSubject, Usage } from '../pki/x509.js';

/** The CA Secret's rules, from its annotations. */
export interface SignerPolicy {
  /** what the signer signs at all (default: both) */
  usages: Usage[];
  /** ServiceAccounts of these namespaces are approved automatically */
  approveNamespaces: string[];
  /** these usernames are approved automatically */
  approveUsers: string[];
  /** every DNS name and the CN of an automatically approved request lie under one of these */
  approveDnsSuffixes: string[];
}

/** What the policy is applied to: the CSR's spec (requester set by the apiserver) and its PKCS#10 content. */
export interface CsrFacts {
  username: string;
  /** Kubernetes usages ("server auth", "digital signature", …) */
  usages: string[];
  subject: CertificateSubject;
  requestsCa: boolean;
}

// the key usages a TLS leaf needs, whichever of server/client it is for
const KEY_USAGES = new Set(['digital signature', 'key encipherment', 'signing']);
const EXTENDED: Record<string, Usage> = { 'server auth': 'server', 'client auth': 'client' };

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The policy a CA Secret's annotations declare, or why they cannot be used. */
export function parseSignerPolicy(annotations: Record<string, string> | undefined): SignerPolicy | Refusal {
  const a = annotations ?? {};
  const usages = a[A.csrUsages] === undefined ? ['server', 'client'] : list(a[A.csrUsages]);
  const bad = usages.filter((u) => u !== 'server' && u !== 'client');
  if (bad.length || !usages.length)
    return refuse('InvalidAnnotation', `${A.csrUsages}: "${a[A.csrUsages]}" is not a list of server, client`);
  const approveNamespaces = list(a[A.csrApproveNamespaces]);
  const badNs = approveNamespaces.filter((n) => !isDnsLabel(n));
  if (badNs.length) return refuse('InvalidAnnotation', `${A.csrApproveNamespaces}: "${badNs[0]}" is not a namespace name`);
  const approveDnsSuffixes = list(a[A.csrApproveDnsSuffixes]).map((s) => s.replace(/^\./, '').toLowerCase());
  const badSuffix = approveDnsSuffixes.filter((s) => !isDnsSubdomain(s));
  if (badSuffix.length) return refuse('InvalidAnnotation', `${A.csrApproveDnsSuffixes}: "${badSuffix[0]}" is not a DNS name`);
  return { usages: usages as Usage[], approveNamespaces, approveUsers: list(a[A.csrApproveUsers]), approveDnsSuffixes };
}

/** The server/client usages a CSR asks for, or a refusal naming what the signer does not sign. */
export function signableUsages(facts: Pick<CsrFacts, 'usages' | 'requestsCa'>, policy: SignerPolicy): Usage[] | Refusal {
  if (facts.requestsCa)
    return refuse('CsrRequestsCA', 'the request asks for a CA certificate (basicConstraints CA:TRUE or certificate signing)');
  const asked = facts.usages.map((u) => u.toLowerCase());
  const unknown = asked.filter((u) => !KEY_USAGES.has(u) && !(u in EXTENDED));
  if (unknown.length) return refuse('CsrUsageNotAllowed', `usages ${unknown.map((u) => `"${u}"`).join(', ')} are not signed by annotary`);
  const usages = [...new Set(asked.filter((u) => u in EXTENDED).map((u) => EXTENDED[u]))];
  if (!usages.length) return refuse('CsrUsageNotAllowed', 'the request asks for neither "server auth" nor "client auth"');
  const denied = usages.filter((u) => !policy.usages.includes(u));
  if (denied.length)
    return refuse(
      'CsrUsageNotAllowed',
      `${denied.join(', ')} usage is not allowed by the CA Secret (${A.csrUsages}: ${policy.usages.join(',')})`,
    );
  return usages;
}

const underSuffix = (name: string, suffixes: string[]) => {
  const n = name.toLowerCase();
  return suffixes.some((s) => n === s || n.endsWith(`.${s}`));
};

/**
 * Whether annotary approves this CSR by itself: a reason (for the Approved condition) when the
 * policy covers it, else undefined (a human decides). Call only with signable usages.
 */
export function autoApproval(facts: CsrFacts, policy: SignerPolicy): string | undefined {
  const sa = /^system:serviceaccount:([^:]+):[^:]+$/.exec(facts.username);
  const byNamespace = sa && policy.approveNamespaces.includes(sa[1]);
  const byUser = policy.approveUsers.includes(facts.username);
  if (!byNamespace && !byUser) return undefined;
  if (facts.requestsCa || facts.subject.ipAddresses.length) return undefined;
  const names = [...facts.subject.dnsNames, ...(facts.subject.commonName ? [facts.subject.commonName] : [])];
  if (!names.length || !names.every((n) => underSuffix(n, policy.approveDnsSuffixes))) return undefined;
  if (isRefusal(signableUsages(facts, policy))) return undefined;
  return byNamespace
    ? `a ServiceAccount of namespace ${sa[1]} (${A.csrApproveNamespaces})`
    : `user ${facts.username} (${A.csrApproveUsers})`;
}
