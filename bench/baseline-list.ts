// The baseline process of bench/scale.ts: the same client library (KubeClient) in a bare Node
// process that lists what annotary's caches hold (Secrets, ConfigMaps, Deployments,
// StatefulSets, DaemonSets, Ingresses of one namespace) and keeps the lists. Prints one JSON
// line: RSS and heap right after the import, and with the lists held.
//   node dist-bench/bench/baseline-list.js <kubeconfig> <namespace>
const importStart = process.memoryUsage();
const { KubeClient } = await import('../src/kube/client.js');
const { ConfigMaps, DaemonSets, Deployments, Ingresses, Secrets, StatefulSets } = await import('../src/kube/types.js');
const afterImport = process.memoryUsage();
const [kubeconfig, ns] = process.argv.slice(2);
const client = KubeClient.fromOptions({ kubeconfig, fieldManager: 'bench-baseline' });
const held = await Promise.all([Secrets, ConfigMaps, Deployments, StatefulSets, DaemonSets, Ingresses].map((rt) => client.list(rt, ns)));
const withLists = process.memoryUsage();
console.log(
  JSON.stringify({
    bareRss: importStart.rss,
    bareHeap: importStart.heapUsed,
    importRss: afterImport.rss,
    importHeap: afterImport.heapUsed,
    rss: withLists.rss,
    heap: withLists.heapUsed,
    objects: held.reduce((n, l) => n + l.items.length, 0),
  }),
);
process.exit(0);
