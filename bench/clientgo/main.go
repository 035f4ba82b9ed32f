// The client-go baseline of bench/vs-clientgo.ts (#20): the smallest controller a Go author
// would write for the same jobs as annotary's keystores and reload controllers, on the
// library Reloader and cert-utils-operator are built on. SharedInformers + a rate-limited
// workqueue; per change it patches one digest annotation, and builds no keystore (the floor
// for CPU and latency, not a competitor's full feature set).
//
//	-mode keystores: Secrets annotated annotary.io/keystores get bench.annotary.io/baseline-hash,
//	  the sha256 of tls.crt|tls.key|ca.crt, on the Secret itself;
//	-mode reload: Deployments annotated annotary.io/reload-on-secrets: <name> get the sha256 of
//	  that Secret's data in their pod template's bench.annotary.io/baseline-hash.
//
// Prints "ready" on stdout once its caches are synced. Built from the Debian kubernetes source
// tree (its vendor/ is client-go 1.20) by hack/clientgo.sh.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
)

const (
	baselineKey = "bench.annotary.io/baseline-hash"
	keystoreKey = "annotary.io/keystores"
	reloadKey   = "annotary.io/reload-on-secrets"
	secretIndex = "bySecret"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	namespace := flag.String("namespace", "", "namespace to watch")
	mode := flag.String("mode", "keystores", "keystores | reload")
	protobuf := flag.Bool("protobuf", false, "ask the apiserver for protobuf instead of JSON")
	workers := flag.Int("workers", 4, "workqueue workers")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail(err)
	}
	// client-go's default 5 QPS / burst 10 would throttle the benchmark, not measure it
	cfg.QPS, cfg.Burst = 1000, 2000
	if *protobuf {
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fail(err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 10*time.Minute, informers.WithNamespace(*namespace))
	queue := workqueue.NewNamedRateLimitingQueue(workqueue.DefaultControllerRateLimiter(), *mode)
	secrets := factory.Core().V1().Secrets()
	enqueue := func(obj interface{}) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			queue.Add(key)
		}
	}
	var reconcile func(key string) error
	switch *mode {
	case "keystores":
		secrets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, cur interface{}) { enqueue(cur) },
		})
		reconcile = func(key string) error {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			s, err := secrets.Lister().Secrets(ns).Get(name)
			if err != nil || s.Annotations[keystoreKey] == "" {
				return nil
			}
			h := digest(s.Data["tls.crt"], s.Data["tls.key"], s.Data["ca.crt"])
			if s.Annotations[baselineKey] == h {
				return nil
			}
			patch, _ := json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{
				"annotations": map[string]string{baselineKey: h}, "resourceVersion": s.ResourceVersion}})
			_, err = cs.CoreV1().Secrets(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		}
	case "reload":
		deployments := factory.Apps().V1().Deployments()
		dInf := deployments.Informer()
		err := dInf.AddIndexers(cache.Indexers{secretIndex: func(obj interface{}) ([]string, error) {
			d := obj.(*appsv1.Deployment)
			if s := d.Annotations[reloadKey]; s != "" {
				return []string{d.Namespace + "/" + s}, nil
			}
			return nil, nil
		}})
		if err != nil {
			fail(err)
		}
		dInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, cur interface{}) { enqueue(cur) },
		})
		bySecret := func(obj interface{}) {
			s, ok := obj.(*corev1.Secret)
			if !ok {
				return
			}
			ds, _ := dInf.GetIndexer().ByIndex(secretIndex, s.Namespace+"/"+s.Name)
			for _, d := range ds {
				enqueue(d)
			}
		}
		secrets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    bySecret,
			UpdateFunc: func(_, cur interface{}) { bySecret(cur) },
		})
		reconcile = func(key string) error {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			d, err := deployments.Lister().Deployments(ns).Get(name)
			if err != nil || d.Annotations[reloadKey] == "" {
				return nil
			}
			s, err := secrets.Lister().Secrets(ns).Get(d.Annotations[reloadKey])
			if err != nil {
				return nil
			}
			keys := make([]string, 0, len(s.Data))
			for k := range s.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([][]byte, 0, 2*len(keys))
			for _, k := range keys {
				parts = append(parts, []byte(k), s.Data[k])
			}
			h := digest(parts...)
			if d.Spec.Template.Annotations[baselineKey] == h {
				return nil
			}
			patch, _ := json.Marshal(map[string]interface{}{
				"metadata": map[string]interface{}{"resourceVersion": d.ResourceVersion},
				"spec": map[string]interface{}{"template": map[string]interface{}{
					"metadata": map[string]interface{}{"annotations": map[string]string{baselineKey: h}}}},
			})
			_, err = cs.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		}
	default:
		fail(fmt.Errorf("unknown -mode %q", *mode))
	}

	factory.Start(ctx.Done())
	for t, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			fail(fmt.Errorf("cache of %v never synced", t))
		}
	}
	for i := 0; i < *workers; i++ {
		go func() {
			for {
				item, shutdown := queue.Get()
				if shutdown {
					return
				}
				key := item.(string)
				if err := reconcile(key); err != nil {
					queue.AddRateLimited(key) // a 409 (precondition) or a transient error: retried
				} else {
					queue.Forget(key)
				}
				queue.Done(key)
			}
		}()
	}
	fmt.Println("ready")
	<-ctx.Done()
	queue.ShutDown()
}

func digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{'|'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
