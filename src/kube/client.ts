// A thin REST client over @kubernetes/client-node's config and auth.
// Why not the generated API classes: the operator handles several kinds (core, apps,
// networking, the Route CRD) with the same few verbs and needs exact control over patch
// content types and preconditions; one generic request path keeps that in one place.
import { KubeConfig, Watch } from '@kubernetes/client-node';
import fetch from 'node-fetch';
import path from 'node:path';
import type { KubeObject, ObjectList, ResourceType } from './types.js';
import { resourcePath } from './types.js';

export class ApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
  get isConflict(): boolean { return this.status === 409; }
  get isNotFound(): boolean { return this.status === 404; }
  get isGone(): boolean { return this.status === 410; }
  get isAlreadyExists(): boolean { return this.status === 409 && this.reason === 'AlreadyExists'; }
}

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export type PatchType = 'merge' | 'json' | 'strategic';
const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface ClientOptions { kubeconfig?: string; context?: string; fieldManager?: string }

export type Query = Record<string, string | number | boolean | undefined>;

/** Resolves credentials the usual way: --kubeconfig, then KUBECONFIG / ~/.kube/config, then in-cluster. */
export function loadKubeConfig(opts: ClientOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  // a path list (as KUBECONFIG allows) is merged the way kubectl does, by client-node
  if (opts.kubeconfig && !opts.kubeconfig.includes(path.delimiter)) kc.loadFromFile(opts.kubeconfig);
  else if (opts.kubeconfig) {
    const [first, ...rest] = opts.kubeconfig.split(path.delimiter).filter(Boolean);
    kc.loadFromFile(first);
    for (const f of rest) { const more = new KubeConfig(); more.loadFromFile(f); kc.mergeConfig(more); }
  } else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  return kc;
}

export class KubeClient {
  readonly fieldManager: string;
  private readonly server: string;
  private readonly watcher: Watch;

  constructor(readonly config: KubeConfig, opts: ClientOptions = {}) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
    this.fieldManager = opts.fieldManager ?? 'annotary';
    this.watcher = new Watch(config);
  }

  static fromOptions(opts: ClientOptions = {}): KubeClient {
    return new KubeClient(loadKubeConfig(opts), opts);
  }

  async request<T>(method: HttpMethod, path: string, opts: { query?: Query; body?: unknown; contentType?: string } = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    // client-node resolves TLS, tokens, exec/OIDC plugins into fetch options (agent + headers)
    const init = await this.config.applyToFetchOptions({});
    const headers: Record<string, string> = { accept: 'application/json' };
    new Headers(init.headers as HeadersInit).forEach((v, k) => { headers[k] = v; });
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    }
    const res = await fetch(url, { ...init, method, headers, body });
    const text = await res.text();
    if (res.status >= 200 && res.status < 300) return (text ? JSON.parse(text) : undefined) as T;
    let reason = 'Unknown';
    let message = `${method} ${path}: HTTP ${res.status}`;
    try {
      const status = JSON.parse(text) as { reason?: string; message?: string };
      reason = status.reason ?? reason;
      if (status.message) message = `${method} ${path}: ${status.message}`;
    } catch { /* non-JSON error body: keep the generic message */ }
    throw new ApiError(res.status, reason, message);
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

  create<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, body: T): Promise<T> {
    return this.request<T>('POST', resourcePath(rt, namespace), { body, query: { fieldManager: this.fieldManager } });
  }

  patch<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, name: string, patch: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.request<T>('PATCH', resourcePath(rt, namespace, name), {
      body: patch,
      contentType: PATCH_CONTENT_TYPE[type],
      query: { fieldManager: this.fieldManager },
    });
  }

  /** PUT: the body's metadata.resourceVersion makes it conditional (409 when it is stale). */
  replace<T extends KubeObject>(rt: ResourceType, namespace: string | undefined, name: string, body: T): Promise<T> {
    return this.request<T>('PUT', resourcePath(rt, namespace, name), { body, query: { fieldManager: this.fieldManager } });
  }

  async delete(rt: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    await this.request('DELETE', resourcePath(rt, namespace, name));
  }

  /** Streams watch events; `done` is called once when the stream ends for any reason. */
  watch(path: string, query: Query, onEvent: (type: string, obj: KubeObject) => void, done: (err?: unknown) => void): Promise<AbortController> {
    return this.watcher.watch(path, query, (type, obj) => onEvent(type, obj as KubeObject), done);
  }
}
