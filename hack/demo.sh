#!/usr/bin/env bash
# `make demo`: the local control plane + annotary, and a short story on it. Every step is
# a plain kubectl command, printed before it runs, so it can be repeated on a real cluster.
#   hack/demo.sh        run the demo (leaves the cluster and operator running)
#   hack/demo.sh down   stop the operator and the control plane
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STATE=$ROOT/.cluster
PORT=${DEMO_METRICS_PORT:-18080}
export KUBECONFIG=$STATE/kubeconfig

if [ -t 1 ]; then B=$'\e[1m'; G=$'\e[32m'; C=$'\e[36m'; R=$'\e[31m'; N=$'\e[0m'; else B=; G=; C=; R=; N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
run() { printf '%s$ %s%s\n' "$C" "$*" "$N"; "$@"; }
pass() { printf '%s✔ %s%s\n' "$G" "$*" "$N"; }
fail() { printf '%s✘ %s%s\n' "$R" "$*" "$N"; exit 1; }
now_ms() { date +%s%3N; }

stop_operator() {
  if [ -f "$STATE/demo-operator.pid" ]; then
    kill "$(cat "$STATE/demo-operator.pid")" 2>/dev/null || true
    rm -f "$STATE/demo-operator.pid"
  fi
}

if [ "${1:-}" = down ]; then stop_operator; bash hack/cluster.sh down; exit 0; fi

step "Local control plane (etcd + kube-apiserver + kube-controller-manager)"
bash hack/cluster.sh up

step "annotary run"
stop_operator
node dist/cli.js run --log-format text --metrics-addr "127.0.0.1:$PORT" > "$STATE/demo-operator.log" 2>&1 &
echo $! > "$STATE/demo-operator.pid"
for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "127.0.0.1:$PORT/readyz" >/dev/null || fail "operator not ready; see $STATE/demo-operator.log"
pass "operator ready (pid $(cat "$STATE/demo-operator.pid"), log $STATE/demo-operator.log, metrics http://127.0.0.1:$PORT/metrics)"

step "A CA and a certificate, made with openssl"
PKI=$(mktemp -d)
trap 'rm -rf "$PKI"' EXIT
mkcert() { # $1 = name, $2 = CN
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 8)" -days 90 \
    -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$2") -out "$PKI/$1.crt" 2>/dev/null
}
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=demo-ca" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
mkcert web web.demo.svc
pass "ca.crt (RSA 2048) and web.crt (EC P-256, SAN web.demo.svc)"

step "Annotate a TLS Secret → Java keystores appear in it"
kubectl delete namespace demo --ignore-not-found --wait=true >/dev/null
run kubectl create namespace demo
run kubectl -n demo create secret generic web-keystore-password --from-literal=password=demo-store-password
run kubectl -n demo create secret generic web-tls --type=kubernetes.io/tls \
  --from-file=tls.crt="$PKI/web.crt" --from-file=tls.key="$PKI/web.key" --from-file=ca.crt="$PKI/ca.crt"
t0=$(now_ms)
run kubectl -n demo annotate secret web-tls annotary.io/keystores=jks,pkcs12 \
  annotary.io/keystore-password-secret=web-keystore-password/password annotary.io/cert-info=true
for _ in $(seq 100); do kubectl -n demo get secret web-tls -o jsonpath='{.data.keystore\.jks}' | grep -q . && break; sleep 0.1; done
t1=$(now_ms)
run kubectl -n demo get secret web-tls -o go-template='{{range $k, $v := .data}}  {{$k}}{{"\n"}}{{end}}'
kubectl -n demo get secret web-tls -o jsonpath='{.data.keystore\.jks}' | base64 -d > "$PKI/keystore.jks"
printf '%s$ keytool -list -keystore keystore.jks -storepass demo-store-password%s\n' "$C" "$N"
keytool -list -keystore "$PKI/keystore.jks" -storepass demo-store-password 2>/dev/null | grep -E 'PrivateKeyEntry|fingerprint' | sed 's/^/  /'
first_fp=$(keytool -list -keystore "$PKI/keystore.jks" -storepass demo-store-password 2>/dev/null | awk '/fingerprint/ {print $NF}')
pass "keystore.jks, keystore.p12, truststore.jks, truststore.p12, tls.crt.info written in $((t1 - t0)) ms"

step "The operator restarts: nothing is rewritten (byte-stable stores)"
rv=$(kubectl -n demo get secret web-tls -o jsonpath='{.metadata.resourceVersion}')
stop_operator; sleep 0.5
node dist/cli.js run --log-format text --metrics-addr "127.0.0.1:$PORT" >> "$STATE/demo-operator.log" 2>&1 &
echo $! > "$STATE/demo-operator.pid"
for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
sleep 2
rv2=$(kubectl -n demo get secret web-tls -o jsonpath='{.metadata.resourceVersion}')
[ "$rv" = "$rv2" ] && pass "resourceVersion $rv unchanged after restart: zero writes" || fail "secret rewritten ($rv → $rv2)"

step "cert-manager renews the certificate → the stores follow, once"
mkcert web2 web.demo.svc
t0=$(now_ms)
# what cert-manager does on renewal: new tls.crt/tls.key in the same Secret
printf '%s$ kubectl -n demo patch secret web-tls -p "{\\"data\\":{\\"tls.crt\\":\\"$(base64 -w0 web2.crt)\\",\\"tls.key\\":\\"$(base64 -w0 web2.key)\\"}}"%s\n' "$C" "$N"
kubectl -n demo patch secret web-tls -p "{\"data\":{\"tls.crt\":\"$(base64 -w0 "$PKI/web2.crt")\",\"tls.key\":\"$(base64 -w0 "$PKI/web2.key")\"}}"
for _ in $(seq 100); do
  kubectl -n demo get secret web-tls -o jsonpath='{.data.keystore\.jks}' | base64 -d > "$PKI/keystore2.jks"
  fp=$(keytool -list -keystore "$PKI/keystore2.jks" -storepass demo-store-password 2>/dev/null | awk '/fingerprint/ {print $NF}')
  [ -n "$fp" ] && [ "$fp" != "$first_fp" ] && break; sleep 0.1
done
t1=$(now_ms)
[ "$fp" != "$first_fp" ] && pass "new keystore fingerprint ${fp:0:23}… (was ${first_fp:0:23}…) after $((t1 - t0)) ms" || fail "keystore not regenerated"

step "Bad input gets a Warning Event, and nothing is written"
run kubectl -n demo create secret generic broken --from-literal=tls.crt=not-a-pem --from-literal=tls.key=nope
run kubectl -n demo annotate secret broken annotary.io/keystores=jks
for _ in $(seq 50); do kubectl -n demo get events --field-selector involvedObject.name=broken -o name | grep -q . && break; sleep 0.1; done
run kubectl -n demo get events --field-selector involvedObject.name=broken -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
kubectl -n demo get secret broken -o jsonpath='{.data}' | grep -q keystore && fail "broken secret was written" || pass "no keystore written into the broken Secret"

step "Events and metrics"
run kubectl -n demo get events --field-selector involvedObject.name=web-tls -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
printf '%s$ curl -s 127.0.0.1:%s/metrics | grep annotary_%s\n' "$C" "$PORT" "$N"
curl -s "127.0.0.1:$PORT/metrics" | grep -E '^annotary_(reconcile_total|writes_total|invalid_input_total|events_total|cached_objects)' | sed 's/^/  /'

printf '\n%sDemo done.%s The cluster and operator keep running: export KUBECONFIG=%s\n' "$B" "$N" "$KUBECONFIG"
echo "Operator log: $STATE/demo-operator.log — stop everything with: make demo-down"
