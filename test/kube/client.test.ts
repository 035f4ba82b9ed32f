// The REST client's transport, against a local HTTP server that plays the apiserver: status
// mapping, patch content types, watch streams split anywhere, the retry after a 401.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { userAgent } from '../../src/identity.js';
import { ApiError, KubeClient } from '../../src/kube/client.js';
import type { Credentials } from '../../src/kube/credentials.js';
import { CredentialsProvider } from '../../src/kube/credentials.js';
import type { KubeObject } from '../../src/kube/types.js';
import { CertificateSigningRequests, Secrets } from '../../src/kube/types.js';
import { secret } from '../gen.js';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
let handler: Handler;
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req
      .on('data', (c: Buffer) => {
        body += c.toString();
      })
      .on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
);

function clientWith(tokens: string[]): { client: KubeClient; resolutions: () => number } {
  let n = 0;
  const provider = new CredentialsProvider({}, async (): Promise<Credentials> => ({
    server: base,
    headers: { Authorization: `Bearer ${tokens[Math.min(n++, tokens.length - 1)]}` },
  }));
  return { client: new KubeClient(provider, { fieldManager: 'unit' }), resolutions: () => n };
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('requests: verbs, patch content types, the apiserver Status on errors', () => {
  test("every request names the process (the operator's User-Agent), which the apiserver's audit log records", async () => {
    const agents: (string | undefined)[] = [];
    handler = (req, _body, res) => {
      agents.push(req.headers['user-agent']);
      json(res, 200, { metadata: { name: 's' }, items: [] });
    };
    const provider = new CredentialsProvider({}, async (): Promise<Credentials> => ({ server: base, headers: {} }));
    const client = new KubeClient(provider, { userAgent: userAgent() });
    await client.get(Secrets, 'ns', 's');
    await client.patch(Secrets, 'ns', 's', {});
    expect(agents).toEqual([userAgent(), userAgent()]);
    expect(userAgent()).toMatch(new RegExp(`^annotary/\\d+\\.\\d+\\.\\d+ \\(${process.platform}/${process.arch}\\) .+_${process.pid}$`));
  });

  test('a merge patch goes out with its content type, fieldManager and credentials', async () => {
    const seen: { method?: string; url?: string; type?: string; auth?: string; body?: string }[] = [];
    handler = (req, body, res) => {
      seen.push({ method: req.method, url: req.url, type: req.headers['content-type'], auth: req.headers.authorization, body });
      json(res, 200, { metadata: { name: 's' } });
    };
    const { client } = clientWith(['t1']);
    const out = await client.patch(Secrets, 'ns', 's', { metadata: { annotations: { a: 'b' } } });
    expect(out.metadata.name).toBe('s');
    expect(seen).toEqual([
      {
        method: 'PATCH',
        url: '/api/v1/namespaces/ns/secrets/s?fieldManager=unit',
        type: 'application/merge-patch+json',
        auth: 'Bearer t1',
        body: '{"metadata":{"annotations":{"a":"b"}}}',
      },
    ]);
  });

  test('a write asks for the whole object unless told metadata only (PartialObjectMetadata, then the object as fallback); a delete never reads its answer', async () => {
    const accepts: string[] = [];
    handler = (req, _body, res) => {
      accepts.push(`${req.method} ${req.headers.accept}`);
      json(res, 200, { metadata: { name: 's' } });
    };
    const { client } = clientWith(['t']);
    const metadataOnly = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json';
    await client.patch(Secrets, 'ns', 's', {});
    await client.patch(Secrets, 'ns', 's', {}, 'merge', undefined, 'metadata');
    await client.create(Secrets, 'ns', secret('s'));
    await client.create(Secrets, 'ns', secret('s'), 'metadata');
    await client.replace(Secrets, 'ns', 's', secret('s'), 'metadata');
    await client.delete(Secrets, 'ns', 's');
    await client.get(Secrets, 'ns', 's');
    expect(accepts).toEqual([
      'PATCH application/json',
      `PATCH ${metadataOnly}`,
      'POST application/json',
      `POST ${metadataOnly}`,
      `PUT ${metadataOnly}`,
      `DELETE ${metadataOnly}`,
      'GET application/json',
    ]);
  });

  test("a subresource's patch (a CSR's approval) goes to its own path; a cluster-scoped object has no namespace in it", async () => {
    const urls: string[] = [];
    handler = (req, _body, res) => {
      urls.push(`${req.method} ${req.url}`);
      json(res, 200, { metadata: { name: 'c' } });
    };
    const { client } = clientWith(['t']);
    await client.patch(CertificateSigningRequests, undefined, 'c', { status: {} }, 'merge', 'approval');
    await client.patch(CertificateSigningRequests, '', 'c', { status: {} }, 'merge', 'status');
    await client.patch(CertificateSigningRequests, undefined, 'c', { metadata: {} });
    expect(urls).toEqual([
      'PATCH /apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval?fieldManager=unit',
      'PATCH /apis/certificates.k8s.io/v1/certificatesigningrequests/c/status?fieldManager=unit',
      'PATCH /apis/certificates.k8s.io/v1/certificatesigningrequests/c?fieldManager=unit',
    ]);
  });

  test("a server behind a path prefix (a proxy such as Rancher's): every path goes under it; query values are encoded", async () => {
    const urls: string[] = [];
    handler = (req, _body, res) => {
      urls.push(`${req.method} ${req.headers.host} ${req.url}`);
      json(res, 200, { metadata: { name: 's' }, items: [] });
    };
    const server = `${base}/k8s/clusters/c-1/`;
    const client = new KubeClient(new CredentialsProvider({}, async (): Promise<Credentials> => ({ server, headers: {} })));
    await client.list(Secrets, 'ns', { labelSelector: 'app in (a,b),tier!=x', limit: 500, continue: undefined });
    await client.get(Secrets, undefined, 's');
    expect(urls).toEqual([
      `GET ${new URL(base).host} /k8s/clusters/c-1/api/v1/namespaces/ns/secrets?labelSelector=app+in+%28a%2Cb%29%2Ctier%21%3Dx&limit=500`,
      `GET ${new URL(base).host} /k8s/clusters/c-1/api/v1/secrets/s`,
    ]);
  });

  test('an error carries the Status reason and message; a 404 from tryGet is undefined', async () => {
    handler = (req, _b, res) =>
      req.method === 'PUT'
        ? json(res, 409, { kind: 'Status', reason: 'Conflict', message: 'the object has been modified' })
        : json(res, 404, { kind: 'Status', reason: 'NotFound', message: 'secrets "x" not found' });
    const { client } = clientWith(['t']);
    const err = await client.replace(Secrets, 'ns', 'x', secret('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).isConflict).toBe(true);
    expect((err as ApiError).message).toBe('PUT /api/v1/namespaces/ns/secrets/x: the object has been modified');
    expect(await client.tryGet(Secrets, 'ns', 'x')).toBeUndefined();
  });

  test('a non-JSON error body keeps a generic message', async () => {
    handler = (_r, _b, res) => {
      res.writeHead(503);
      res.end('<html>busy</html>');
    };
    const err = (await clientWith(['t'])
      .client.get(Secrets, 'ns', 'x')
      .catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.reason, err.message]).toEqual([503, 'Unknown', 'GET /api/v1/namespaces/ns/secrets/x: HTTP 503']);
  });
});

describe('a 401 resolves the credentials again and retries once', () => {
  test('an expired token: the retry with the new one succeeds', async () => {
    const auths: string[] = [];
    handler = (req, _b, res) => {
      auths.push(req.headers.authorization!);
      return req.headers.authorization === 'Bearer fresh'
        ? json(res, 200, { items: [], metadata: {} })
        : json(res, 401, { reason: 'Unauthorized' });
    };
    const { client, resolutions } = clientWith(['stale', 'fresh']);
    await client.list(Secrets, 'ns');
    expect(auths).toEqual(['Bearer stale', 'Bearer fresh']);
    expect(resolutions()).toBe(2);
  });

  test('still 401 after resolving again: the caller gets the 401 (no loop)', async () => {
    let requests = 0;
    handler = (_r, _b, res) => {
      requests++;
      json(res, 401, { reason: 'Unauthorized', message: 'Unauthorized' });
    };
    const { client, resolutions } = clientWith(['bad']);
    const err = (await client.get(Secrets, 'ns', 'x').catch((e: unknown) => e)) as ApiError;
    expect(err.isUnauthorized).toBe(true);
    expect([requests, resolutions()]).toEqual([2, 2]);
  });
});

describe('watch streams events, however the bytes are split', () => {
  const events = [
    { type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '1' } } },
    { type: 'BOOKMARK', object: { metadata: { resourceVersion: '2' } } },
    { type: 'MODIFIED', object: { metadata: { name: 'a', resourceVersion: '3' }, data: { k: 'ü✓' } } },
  ];

  test.each([1, 7, 64, 10_000])('chunks of %i bytes: every event once, in order, then done()', async (size) => {
    let url = '';
    handler = (req, _b, res) => {
      url = req.url!;
      res.writeHead(200, { 'content-type': 'application/json' });
      const bytes = Buffer.from(events.map((e) => JSON.stringify(e) + '\n').join(''));
      for (let i = 0; i < bytes.length; i += size) res.write(bytes.subarray(i, i + size));
      res.end();
    };
    const got: [string, KubeObject][] = [];
    const { client } = clientWith(['t']);
    const err = await new Promise<unknown>((resolve) => {
      void client.watch('/api/v1/secrets', { resourceVersion: '0', timeoutSeconds: 5 }, (t, o) => got.push([t, o]), resolve);
    });
    expect(err).toBeUndefined();
    expect(got).toEqual(events.map((e) => [e.type, e.object]));
    expect(url).toBe('/api/v1/secrets?resourceVersion=0&timeoutSeconds=5&watch=true');
  });

  test('a 410 answer to the watch request is an ApiError the informer can tell apart', async () => {
    handler = (_r, _b, res) => json(res, 410, { kind: 'Status', reason: 'Expired', message: 'too old resource version' });
    const err = await new Promise<unknown>((resolve) => {
      void clientWith(['t']).client.watch('/api/v1/secrets', {}, () => undefined, resolve);
    });
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).isGone).toBe(true);
  });

  test('abort() ends an open stream: done() once, no error', async () => {
    handler = (_r, _b, res) => {
      res.writeHead(200);
      res.write(JSON.stringify(events[0]) + '\n'); /* and keeps it open */
    };
    let doneCalls = 0;
    let first!: () => void;
    const gotFirst = new Promise<void>((r) => {
      first = r;
    });
    const { client } = clientWith(['t']);
    const ended = new Promise<unknown>((resolve) => {
      void client
        .watch(
          '/api/v1/secrets',
          {},
          () => first(),
          (e) => {
            doneCalls++;
            resolve(e);
          },
        )
        .then(async (abort) => {
          await gotFirst;
          abort.abort();
          abort.abort();
        });
    });
    expect(await ended).toBeUndefined();
    expect(doneCalls).toBe(1);
  });
});
