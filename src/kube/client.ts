// A thin REST client on node:http(s), with credentials from ./credentials.ts.
// Why not the generated API classes: the operator handles several kinds (core, apps,
// networking, the Route CRD) with the same few verbs and needs exact control over patch
// content types and preconditions; one generic request path keeps that in one place. Why not
// client-node's fetch and Watch: see credentials.ts (the library stays out of this process).
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Credentials, CredentialsProvider, KubeconfigSource } from './credentials.js';
import { credentialsFor } from './credentials.js';
import type { KubeObject, ObjectList, ResourceType } from './types.js';
import { resourcePath } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
  get isConflict(): boolean {
    return this.status === 409;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
  get isGone(): boolean {
    return this.status === 410;
  }
  get isAlreadyExists(): boolean {
    return this.status === 409 && this.reason === 'AlreadyExists';
  }
  get isUnauthorized(): boolean {
    return this.status === 401;
  }
  get isForbidden(): boolean {
    return this.status === 403;
  }
  /** refused for good: the same request can never succeed (bad request, too large, invalid) */
  get isPermanent(): boolean {
    return this.status === 400 || this.status === 413 || this.status === 422;
  }
}

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export type PatchType = 'merge' | 'json' | 'strategic';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface ClientOptions extends KubeconfigSource {
  fieldManager?: string;
  /** sent on every request; none: Node's default (no header) */
  userAgent?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

/**
 * What a write answers with: the whole object, or its metadata only (PartialObjectMetadata, as
 * client-go's metadata client asks for it). The operator reads no write's answer: for a keystore
 * Secret the object is every store again, for the apiserver to encode and send and for this
 * process to read (#20). A server that cannot transform the answer sends the object (the
 * second media type); errors are a Status either way.
 */
export type Answer = 'object' | 'metadata';
const ACCEPT: Record<Answer, string> = {
  object: 'application/json',
  metadata: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json',
};

/** A request without an answer for this long fails (watches excepted: the server ends them). */
const REQUEST_TIMEOUT_MS = 60_000;
/** a watch that asks for no timeoutSeconds lasts up to 2 × the apiserver's --min-request-timeout (1800 s) */
const WATCH_DEFAULT_TIMEOUT_S = 3600;
const WATCH_GRACE_S = 30;

interface Connection {
  credentials: Credentials;
  agent: http.Agent;
  /** the server's scheme, host and port, parsed once: a URL per request was ~3% of a keystore rotation's CPU (#20) */
  target: { module: typeof http | typeof https; hostname: string; port: string; basePath: string };
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
}

export class KubeClient {
  readonly fieldManager: string;
  private readonly userAgent: string | undefined;
  private connection: Connection | undefined;

  constructor(
    private readonly credentials: CredentialsProvider,
    opts: ClientOptions = {},
  ) {
    this.fieldManager = opts.fieldManager ?? 'annotary';
    this.userAgent = opts.userAgent;
  }

  /** Credentials resolve on the first request; see `connect` to resolve them up front. */
  static fromOptions(opts: ClientOptions = {}): KubeClient {
    return new KubeClient(credentialsFor(opts), opts);
  }

  /** Resolves the credentials now, so that a bad kubeconfig fails at startup with its reason. */
  async connect(): Promise<string> {
    return (await this.current()).credentials.server;
  }

  /** The CA the client trusts the apiserver with (kubeconfig or in-cluster ca.crt); undefined: none configured. */
  async apiserverCa(): Promise<Buffer | undefined> {
    return (await this.current()).credentials.ca;
  }

  /** The agent (TLS material, pooled connections) follows the credentials the provider holds. */
  private async current(): Promise<Connection> {
    const credentials = await this.credentials.get();
    if (this.connection?.credentials !== credentials)
      this.connection = { credentials, agent: agentFor(credentials), target: targetOf(credentials) };
    return this.connection;
  }

  /** One request; a 401 re-resolves the credentials (an expired exec/OIDC token) and tries once more. */
  private async open(
    method: HttpMethod,
    path: string,
    opts: { query?: Query; body?: string; contentType?: string; timeoutMs?: number; answer?: Answer },
  ): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.current();
      const { module, hostname, port, basePath } = conn.target;
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
      const search = query.size ? `?${query.toString()}` : '';
      const headers: Record<string, string> = { accept: ACCEPT[opts.answer ?? 'object'], ...this.credentials.headers(conn.credentials) };
      if (this.userAgent) headers['user-agent'] = this.userAgent;
      if (opts.body !== undefined) {
        headers['content-type'] = opts.contentType ?? 'application/json';
        headers['content-length'] = String(Buffer.byteLength(opts.body));
      }
      const req = module.request({ hostname, port, path: basePath + path + search, method, headers, agent: conn.agent });
      const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
      req.setTimeout(timeoutMs, () =>
        req.destroy(Object.assign(new Error(`${method} ${path}: silent for ${timeoutMs / 1000} s`), { name: 'TimeoutError' })),
      );
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        req.on('response', resolve).on('error', reject);
        req.end(opts.body);
      });
      if (res.statusCode === 401 && attempt === 0) {
        res.resume();
        await this.credentials.refresh(conn.credentials);
        continue;
      }
      return { res, req };
    }
  }

  async request<T>(
    method: HttpMethod,
    path: string,
    opts: { query?: Query; body?: unknown; contentType?: string; answer?: Answer } = {},
  ): Promise<T> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const { res } = await this.open(method, path, { ...opts, body });
    const text = await readText(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    throw apiError(method, path, status, text);
  }

  get<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('GET', resourcePath(rt, namespace, name));
  }

  /** Returns undefined instead of throwing when the object does not exist. */
  async tryGet<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get<T>(rt, namespace, name);
    } catch (err) {
      if (err instanceof ApiError && err.isNotFound) return undefined;
      throw err;
    }
  }

  list<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, query: Query = {}): Promise<ObjectList<T>> {
    return this.request<ObjectList<T>>('GET', resourcePath(rt, namespace), { query });
  }

  /** `answer` 'metadata': the created object's metadata only (see Answer). */
  create<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, body: T): Promise<T>;
  create(rt: ResourceType, namespace: string | undefined, body: KubeObject, answer: Answer): Promise<KubeObject>;
  create(rt: ResourceType, namespace: string | undefined, body: KubeObject, answer?: Answer): Promise<KubeObject> {
    return this.request('POST', resourcePath(rt, namespace), { body, query: { fieldManager: this.fieldManager }, answer });
  }

  /** `subresource`: e.g. a CSR's status or approval, which the object's own endpoint does not change. */
  patch<T extends KubeObject>(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type?: PatchType,
    subresource?: string,
  ): Promise<T>;
  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType | undefined,
    subresource: string | undefined,
    answer: Answer,
  ): Promise<KubeObject>;
  patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    type: PatchType = 'merge',
    subresource?: string,
    answer?: Answer,
  ): Promise<KubeObject> {
    return this.request('PATCH', resourcePath(rt, namespace, name, subresource), {
      body: patch,
      contentType: PATCH_CONTENT_TYPE[type],
      query: { fieldManager: this.fieldManager },
      answer,
    });
  }

  /** PUT: the body's metadata.resourceVersion makes it conditional (409 when it is stale). */
  replace<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, name: string, body: T): Promise<T>;
  replace(rt: ResourceType, namespace: string | undefined, name: string, body: KubeObject, answer: Answer): Promise<KubeObject>;
  replace(rt: ResourceType, namespace: string | undefined, name: string, body: KubeObject, answer?: Answer): Promise<KubeObject> {
    return this.request('PUT', resourcePath(rt, namespace, name), { body, query: { fieldManager: this.fieldManager }, answer });
  }

  /** `options`: a DeleteOptions body (preconditions on uid and resourceVersion, propagationPolicy). Nothing is read of the answer. */
  async delete(rt: ResourceType, namespace: string | undefined, name: string, options?: DeleteOptions): Promise<void> {
    await this.request('DELETE', resourcePath(rt, namespace, name), {
      body: options && { kind: 'DeleteOptions', apiVersion: 'v1', ...options },
      answer: 'metadata',
    });
  }

  /**
   * Streams watch events; `done` is called once when the stream ends for any reason: with
   * no error when it was aborted or the server closed it, with a TimeoutError when the
   * connection went silent (see the timeout below).
   */
  async watch(
    path: string,
    query: Query,
    onEvent: (type: string, obj: KubeObject) => void,
    done: (err?: unknown) => void,
  ): Promise<AbortController> {
    const abort = new AbortController();
    let finished = false;
    const finish = (err?: unknown) => {
      if (!finished) {
        finished = true;
        done(err);
      }
    };
    try {
      // the server ends a watch after timeoutSeconds; silence well beyond that, before or after
      // the response began, means a dead connection (no FIN ever came): the caller watches again
      const timeoutMs = (Number(query.timeoutSeconds ?? WATCH_DEFAULT_TIMEOUT_S) + WATCH_GRACE_S) * 1000;
      const { res, req } = await this.open('GET', path, { query: { ...query, watch: true }, timeoutMs });
      abort.signal.addEventListener('abort', () => {
        req.destroy();
        finish();
      });
      req.on('error', finish); // the TimeoutError lands here; the response only sees "aborted"
      if (res.statusCode !== 200) {
        finish(apiError('WATCH', path, res.statusCode ?? 0, await readText(res)));
        return abort;
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          if (!line.trim() || finished) continue;
          let event: { type: string; object: KubeObject };
          try {
            event = JSON.parse(line) as typeof event;
          } catch (err) {
            req.destroy();
            finish(err);
            return;
          }
          onEvent(event.type, event.object);
        }
      });
      res.on('end', () => finish());
      res.on('error', finish);
      res.on('close', () => finish());
    } catch (err) {
      finish(err);
    }
    return abort;
  }
}

function targetOf(c: Credentials): Connection['target'] {
  const url = new URL(c.server);
  // as node:http takes a URL: an IPv6 host without its brackets, the scheme's port when none is named
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const plain = url.protocol === 'http:';
  return { module: plain ? http : https, hostname, port: url.port || (plain ? '80' : '443'), basePath: url.pathname.replace(/\/$/, '') };
}

function agentFor(c: Credentials): http.Agent {
  // keep-alive: one pooled connection per concurrent request; TCP probes notice a dead apiserver under a quiet watch
  const common = { keepAlive: true, keepAliveMsecs: 30_000 };
  if (c.server.startsWith('http:')) return new http.Agent(common);
  return new https.Agent({
    ...common,
    // one TLS context for every connection: given only ca/cert/key, each new socket builds its own
    // (the CA parsed into a fresh store): 2.1% of the busy CPU in a profile of a 1k start (#20)
    secureContext: tls.createSecureContext({ ca: c.ca, cert: c.cert, key: c.key }),
    rejectUnauthorized: c.rejectUnauthorized,
    servername: c.servername,
  });
}

function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: string[] = [];
    res.setEncoding('utf8');
    res
      .on('data', (s: string) => parts.push(s))
      .on('end', () => resolve(parts.join('')))
      .on('error', reject);
  });
}

/** The apiserver's Status (reason, message) when the body is one. */
function apiError(method: string, path: string, status: number, text: string): ApiError {
  let reason = 'Unknown';
  let message = `${method} ${path}: HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { reason?: string; message?: string };
    reason = body.reason ?? reason;
    if (body.message) message = `${method} ${path}: ${body.message}`;
  } catch {
    /* non-JSON error body: keep the generic message */
  }
  return new ApiError(status, reason, message);
}
