// annotary's signer policy: what it signs after anyone's approval, and what it approves itself.
import { describe, expect, test } from '@jest/globals';
import type { CsrFacts, SignerPolicy } from '../../src/controllers/csr-policy.js';
import { autoApproval, parseSignerPolicy, signableUsages } from '../../src/controllers/csr-policy.js';
import { isRefusal } from '../../src/kube/refusal.js';

const policy = (annotations: Record<string, string> = {}): SignerPolicy => {
  const p = parseSignerPolicy(annotations);
  if (isRefusal(p)) throw new Error(p.message);
  return p;
};

const facts = (over: Partial<CsrFacts> = {}): CsrFacts => ({
  username: 'system:serviceaccount:team-a:app',
  usages: ['digital signature', 'key encipherment', 'server auth'],
  subject: { dnsNames: ['app.team-a.svc'], ipAddresses: [] },
  requestsCa: false,
  ...over,
});

const TEAM_A = { 'annotary.io/csr-approve-namespaces': 'team-a', 'annotary.io/csr-approve-dns-suffixes': 'team-a.svc' };

describe('parseSignerPolicy', () => {
  test('no annotations: server and client usages signed, nobody approved automatically', () => {
    expect(policy()).toEqual({ usages: ['server', 'client'], approveNamespaces: [], approveUsers: [], approveDnsSuffixes: [] });
  });

  test('lists are trimmed; a suffix may start with a dot and is compared in lower case', () => {
    expect(
      policy({
        'annotary.io/csr-usages': 'client',
        'annotary.io/csr-approve-namespaces': ' team-a , team-b ',
        'annotary.io/csr-approve-users': 'alice',
        'annotary.io/csr-approve-dns-suffixes': '.Example.COM,team-a.svc',
      }),
    ).toEqual({
      usages: ['client'],
      approveNamespaces: ['team-a', 'team-b'],
      approveUsers: ['alice'],
      approveDnsSuffixes: ['example.com', 'team-a.svc'],
    });
  });

  test.each([
    ['annotary.io/csr-usages', 'server,code-signing', 'is not a list of server, client'],
    ['annotary.io/csr-usages', '', 'is not a list of server, client'],
    ['annotary.io/csr-approve-namespaces', 'Team_A', '"Team_A" is not a namespace name'],
    ['annotary.io/csr-approve-dns-suffixes', '*.example.com', '"*.example.com" is not a DNS name'],
  ])('%s: %j is refused as InvalidAnnotation', (key, value, message) => {
    const p = parseSignerPolicy({ [key]: value });
    expect(isRefusal(p) && p.reason).toBe('InvalidAnnotation');
    expect(isRefusal(p) && p.message).toContain(message);
  });
});

describe('signableUsages', () => {
  test('server and client auth map to the usages of the certificate; the key usages they imply pass', () => {
    expect(signableUsages(facts({ usages: ['digital signature', 'key encipherment', 'server auth', 'client auth'] }), policy())).toEqual([
      'server',
      'client',
    ]);
    expect(signableUsages(facts({ usages: ['Client Auth', 'signing'] }), policy())).toEqual(['client']);
  });

  test('a request for a CA is refused, whatever its usages', () => {
    const r = signableUsages(facts({ requestsCa: true }), policy());
    expect(isRefusal(r) && r.reason).toBe('CsrRequestsCA');
  });

  test.each([
    [['cert sign', 'server auth'], 'usages "cert sign" are not signed by annotary'],
    [['code signing'], 'usages "code signing" are not signed by annotary'],
    [['digital signature'], 'neither "server auth" nor "client auth"'],
    [[], 'neither "server auth" nor "client auth"'],
  ])('usages %j are refused: %s', (usages, message) => {
    const r = signableUsages(facts({ usages }), policy());
    expect(isRefusal(r) && r.reason).toBe('CsrUsageNotAllowed');
    expect(isRefusal(r) && r.message).toContain(message);
  });

  test("a usage the CA Secret's csr-usages leaves out is refused", () => {
    const r = signableUsages(facts({ usages: ['client auth', 'server auth'] }), policy({ 'annotary.io/csr-usages': 'server' }));
    expect(isRefusal(r) && r.message).toBe('client usage is not allowed by the CA Secret (annotary.io/csr-usages: server)');
  });
});

describe('autoApproval', () => {
  test('no requester named: nothing is approved automatically (a human approves)', () => {
    expect(autoApproval(facts(), policy({ 'annotary.io/csr-approve-dns-suffixes': 'team-a.svc' }))).toBeUndefined();
  });

  test('a ServiceAccount of a named namespace with names under a suffix is approved, and the reason says why', () => {
    expect(autoApproval(facts(), policy(TEAM_A))).toBe('a ServiceAccount of namespace team-a (annotary.io/csr-approve-namespaces)');
    expect(autoApproval(facts({ subject: { dnsNames: ['team-a.svc', 'x.y.TEAM-A.svc'], ipAddresses: [] } }), policy(TEAM_A))).toBeDefined();
  });

  test('a named user is approved', () => {
    const p = policy({ 'annotary.io/csr-approve-users': 'alice', 'annotary.io/csr-approve-dns-suffixes': 'example.com' });
    expect(autoApproval(facts({ username: 'alice', subject: { dnsNames: ['a.example.com'], ipAddresses: [] } }), p)).toBe(
      'user alice (annotary.io/csr-approve-users)',
    );
  });

  test.each<[string, Partial<CsrFacts>]>([
    ['a ServiceAccount of another namespace', { username: 'system:serviceaccount:team-b:app' }],
    ['a user whose name only looks like a ServiceAccount of the namespace', { username: 'system:serviceaccount:team-a' }],
    ['a user not named', { username: 'mallory' }],
    ['a DNS name outside the suffixes', { subject: { dnsNames: ['app.team-b.svc'], ipAddresses: [] } }],
    ['a name that only ends with the suffix text', { subject: { dnsNames: ['evilteam-a.svc'], ipAddresses: [] } }],
    ['a CN outside the suffixes', { subject: { commonName: 'admin', dnsNames: ['app.team-a.svc'], ipAddresses: [] } }],
    ['an IP address', { subject: { dnsNames: ['app.team-a.svc'], ipAddresses: ['10.0.0.1'] } }],
    ['a request for a CA', { requestsCa: true }],
    ['a usage the signer does not sign', { usages: ['server auth', 'code signing'] }],
  ])('not approved: %s', (_what, over) => {
    expect(autoApproval(facts(over), policy(TEAM_A))).toBeUndefined();
  });

  test('without a suffix list nothing is approved: a request with no name at all neither (no certificate can carry it)', () => {
    const p = policy({ 'annotary.io/csr-approve-namespaces': 'team-a' });
    expect(autoApproval(facts(), p)).toBeUndefined();
    expect(autoApproval(facts({ subject: { dnsNames: [], ipAddresses: [] } }), p)).toBeUndefined();
    expect(autoApproval(facts({ subject: { dnsNames: [], ipAddresses: [] } }), policy(TEAM_A))).toBeUndefined();
  });
});
