#!/usr/bin/env bash
# `make demo`: the local control plane + annotary, then the walkthrough: end-to-end encryption
# of a three-service app (customer → preference → recommendation) with annotary alone.
# Every step is a plain command, printed before it runs, so it can be repeated on a real
# cluster; every check ends in ✔, or ✘ and a non-zero exit.
# Two modes, detected and said in step 1: with a Ready node (hack/cluster.sh runs one where the
# machine can) the three services run as live pods, JVMs from a local image (hack/image.sh java)
# that serve TLS with the keystores annotary writes, and the rotation is proven on them: one new
# preference pod that serves the new certificate, the other pods kept. Without a node the pods stay
# Pending and the same steps prove what the API shows (ReplicaSets), the JVMs run on this machine.
#   hack/demo.sh        run the demo (leaves the cluster and the operator running)
#   hack/demo.sh down   stop the operator and the control plane
# Environment: ANNOTARY_CLUSTER_DIR (default .cluster; hack/cluster.sh honours it too),
# DEMO_METRICS_PORT (default 18080), DEMO_STOP_OPERATOR=1 (stop the operator at the end,
# e.g. in tests), NO_COLOR (plain output on a terminal too).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STATE=${ANNOTARY_CLUSTER_DIR:-$ROOT/.cluster}
PORT=${DEMO_METRICS_PORT:-18080}
export KUBECONFIG=$STATE/kubeconfig
NS=demo
STOREPASS=demo-store-password
SETTLE_S=3                      # --reload-settle of the demo's operator
GRACE_S=12                      # --ca-rotation-grace: act 2's CA rotation, one step every 12 s
QUIET_MS=$((SETTLE_S * 1000 + 1500)) # after the expected state: a settle window and a margin

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  B=$'\e[1m'; G=$'\e[32m'; C=$'\e[36m'; R=$'\e[31m'; D=$'\e[2m'; Y=$'\e[33m'; N=$'\e[0m'
else B=; G=; C=; R=; D=; Y=; N=; fi

# ---------------------------------------------------------------------------- helpers
now_ms() { date +%s%3N; }
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
STEP=0 STEP_TITLE= STEP_T0=0 MARK=0
SUMMARY=()
finish_step() { [ "$STEP" -gt 0 ] && SUMMARY+=("$STEP|$STEP_TITLE|$(($(now_ms) - STEP_T0))"); return 0; }
step() {
  finish_step
  STEP=$((STEP + 1)) STEP_TITLE=$1 STEP_T0=$(now_ms) MARK=$STEP_T0
  printf '\n%s== %d. %s%s\n' "$B" "$STEP" "$1" "$N"
  [ -z "${2:-}" ] || printf '%s%s%s\n' "$D" "$2" "$N"
}
# a pass mark with the time since the step began or the previous mark
pass() { local t; t=$(now_ms); printf '%s✔ %s%s %s(%s)%s\n' "$G" "$*" "$N" "$D" "$(secs $((t - MARK)))" "$N"; MARK=$t; }
fail() { printf '%s✘ %s%s\n' "$R" "$*" "$N"; FAILED=1; exit 1; }
note() { printf '%s  # %s%s\n' "$D" "$*" "$N"; }
# print a command the way a user would type it (in the directory holding the PEM files, paths
# of this repository relative to its root), then run it; its output is indented
show() { local s=${1//$ROOT\//}; printf '%s$ %s%s\n' "$C" "$s" "$N"; }
run() {
  show "$1"
  local out rc=0
  out=$(eval "$1" 2>&1) || rc=$?
  [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  /'
  [ "$rc" = 0 ] || fail "command failed (exit $rc)"
}
# poll a quiet condition (not printed) until it holds
wait_until() { # $1 what, $2 timeout seconds, $3 condition (eval'd)
  local deadline=$(($(now_ms) + $2 * 1000))
  until eval "$3" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$deadline" ] || fail "timed out after $2 s waiting for $1"
    sleep 0.2
  done
}
k() { kubectl -n "$NS" "$@"; }
jp() { k get "$1" "$2" -o "jsonpath=$3" 2>/dev/null; } # kind name jsonpath
rs_count() { k get rs -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\n"}{end}' | grep -cx "Deployment/$1" || true; }
fingerprint() { keytool -list -keystore "$1" -storepass "$STOREPASS" 2>/dev/null | awk '/fingerprint/ {print $NF}'; }
event_of() { k get events --field-selector "involvedObject.name=$1,reason=$2" -o jsonpath='{.items[*].message}' 2>/dev/null; }
store_of() { jp secret "$1" "{.data.${2//./\\.}}" | base64 -d > "$3"; } # Secret, data key, file
pem_count() { jp secret "$1" '{.data.ca\.crt}' | base64 -d | grep -c 'BEGIN CERTIFICATE' || true; }
# a JVM client trusting truststore $1 (JKS) connects to port $2 of address $3 (default loopback):
# prints its lines, sets CIPHER (empty when the handshake failed) and PEER_FP (the SHA-256
# fingerprint of the certificate the server presented)
jvm_client() {
  [ -d classes ] || run "javac -d classes $ROOT/test/java/TlsServer.java $ROOT/test/java/TlsClient.java"
  show "java ${3:+-Dtls.host=$3 }-cp classes TlsClient $STOREPASS JKS:$1:$2"
  local out; out=$(java -XX:TieredStopAtLevel=1 ${3:+"-Dtls.host=$3"} -cp classes TlsClient "$STOREPASS" "JKS:$1:$2" 2>&1) || true
  printf '%s\n' "$out" | sed 's/^/  /'
  CIPHER=$(printf '%s\n' "$out" | sed -n 's/^RESULT 0 OK .*, \(.*\)$/\1/p')
  PEER_FP=$(printf '%s\n' "$out" | sed -n 's/^PEER 0 //p')
}
# a JVM server with keystore $1 and a JVM client trusting truststore $2 (both JKS): jvm_client's
# output and variables, and TLS_PORT
jvm_handshake() {
  [ -d classes ] || run "javac -d classes $ROOT/test/java/TlsServer.java $ROOT/test/java/TlsClient.java"
  show "java -cp classes TlsServer $STOREPASS JKS:$1 &"
  java -XX:TieredStopAtLevel=1 -cp classes TlsServer "$STOREPASS" "JKS:$1" > tls-server.out 2>&1 &
  JAVA_SERVER=$!
  wait_until "the JVM TLS server listening" 30 "grep -q '^LISTENING 0 ' tls-server.out"
  TLS_PORT=$(awk '/^LISTENING 0 / {print $3}' tls-server.out)
  printf '  LISTENING 0 %s\n' "$TLS_PORT"
  jvm_client "$2" "$TLS_PORT"
}
stop_jvm() { [ -z "$JAVA_SERVER" ] || kill "$JAVA_SERVER" 2>/dev/null || true; JAVA_SERVER=; }

# live pods: set in step 1 when a node is Ready
LIVE= JAVA_IMAGE=
node_ready() { kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -qx True; }
# the pods of Deployment $1 that are not being deleted, one name a line
pods_of() { k get pods -l "app=$1" -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}'; }
# $1 address: a TLS server there presents a certificate of the internal CA for $2 (a DNS name)
serves_tls() { openssl s_client -connect "$1:8443" -CAfile "$PKI/internal-ca.crt" -verify_hostname "$2" -verify_return_error </dev/null >/dev/null 2>&1; }

operator_pid() { cat "$STATE/demo-operator.pid" 2>/dev/null || true; }
stop_operator() {
  local pid; pid=$(operator_pid)
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$STATE/demo-operator.pid"
}

if [ "${1:-}" = down ]; then stop_operator; bash hack/cluster.sh down; exit 0; fi

JAVA_SERVER=
FAILED=
on_exit() {
  local rc=$?
  [ -z "$JAVA_SERVER" ] || kill "$JAVA_SERVER" 2>/dev/null || true
  if [ "$rc" != 0 ]; then
    [ -n "$FAILED" ] || printf '%s✘ step %d (%s) failed (exit %d)%s\n' "$R" "$STEP" "$STEP_TITLE" "$rc" "$N"
    if [ -f "$STATE/demo-operator.log" ]; then echo "Last operator log lines ($STATE/demo-operator.log):"; tail -15 "$STATE/demo-operator.log" | sed 's/^/  /'; fi
  fi
  [ "${DEMO_STOP_OPERATOR:-}" != 1 ] || stop_operator
  exit "$rc"
}
trap on_exit EXIT

printf '%sannotary walkthrough%s: customer → preference → recommendation, end-to-end TLS with annotary alone\n' "$B" "$N"

# ---------------------------------------------------------------------------- the platform
step "Local control plane" "etcd + kube-apiserver + kube-controller-manager on loopback, and a node (kubelet, containerd) where hack/cluster.sh runs one"
bash hack/cluster.sh up 2>&1 | sed 's/^/  /'
pass "control plane up, Route CRD installed (KUBECONFIG=$KUBECONFIG)"
if node_ready; then
  LIVE=1
  note "mode: live pods ($(kubectl get nodes -o name | tr '\n' ' ')Ready): the services run as JVMs in pods, from a local image"
  JAVA_IMAGE=$(bash hack/image.sh java-ref)
  run "bash hack/image.sh java   # bookworm + openjdk-17-jre-headless + test/java/TlsServer.java, imported into the node"
  pass "image $JAVA_IMAGE in the node"
else
  note "mode: control plane only (no Ready node): pods stay Pending, Deployments still get ReplicaSets; the JVMs run on this machine"
fi

step "annotary, watching namespace $NS only"
stop_operator
show "kubectl delete namespace $NS --ignore-not-found --wait=true   # a clean start"
kubectl delete namespace "$NS" --ignore-not-found --wait=true --timeout=120s >/dev/null
OPERATOR_CMD="dist/cli.js run --namespaces $NS --reload-settle ${SETTLE_S}s --ca-rotation-grace ${GRACE_S}s --log-format text --metrics-addr 127.0.0.1:$PORT"
show "$OPERATOR_CMD > $STATE/demo-operator.log 2>&1 &"
# (dist/cli.js itself: its shebang carries the node flags the image runs it with)
# shellcheck disable=SC2086
dist/cli.js run --namespaces "$NS" --reload-settle "${SETTLE_S}s" --ca-rotation-grace "${GRACE_S}s" \
  --log-format text --metrics-addr "127.0.0.1:$PORT" > "$STATE/demo-operator.log" 2>&1 &
echo $! > "$STATE/demo-operator.pid"
wait_until "operator /readyz (log: $STATE/demo-operator.log)" 60 "curl -sf 127.0.0.1:$PORT/readyz"
pass "operator ready (pid $(operator_pid), metrics http://127.0.0.1:$PORT/metrics)"

# ---------------------------------------------------------------------------- PKI
PKI=$STATE/demo-pki
rm -rf "$PKI"; mkdir -p "$PKI"; cd "$PKI"
ca() { # $1 file stem, $2 CN, $3 key algorithm options
  openssl req -x509 -new $3 -nodes -days 365 -subj "/O=annotary demo/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout "$1.key" -out "$1.crt" 2>/dev/null
}
leaf() { # $1 file stem, $2 issuing CA stem, $3 CN, $4 SANs (DNS:a,DNS:b)
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=annotary demo/CN=$3" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -set_serial "0x$(openssl rand -hex 8)" -days 90 -out "$1.crt" \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$4") 2>/dev/null
  rm -f "$1.csr"
}
step "Two PKIs, made with openssl" "external CA: what faces clients (the router); internal CA: service-to-service traffic"
show "openssl req -x509 -newkey rsa:2048 -subj '/O=annotary demo/CN=demo external CA' … -out external-ca.crt"
ca external-ca "demo external CA" "-newkey rsa:2048"
show "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj '/O=annotary demo/CN=demo internal CA' … -out internal-ca.crt"
ca internal-ca "demo internal CA" "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
show "openssl x509 -req -CA external-ca.crt … → customer-external.crt   (SAN customer-demo.apps.example.com)"
leaf customer-external external-ca customer-demo.apps.example.com DNS:customer-demo.apps.example.com
for s in customer recommendation; do
  show "openssl x509 -req -CA internal-ca.crt … → $s.crt   (SAN $s.$NS.svc)"
  leaf "$s" internal-ca "$s" "DNS:$s.$NS.svc"
done
show "openssl x509 -req -CA internal-ca.crt … → preference.crt   (SANs: route host and service)"
leaf preference internal-ca preference "DNS:preference-demo.apps.example.com,DNS:preference.$NS.svc"
run "openssl x509 -in preference.crt -noout -issuer -ext subjectAltName"
openssl verify -CAfile internal-ca.crt preference.crt customer.crt recommendation.crt >/dev/null 2>&1 || fail "internal certificates do not verify"
openssl verify -CAfile external-ca.crt customer-external.crt >/dev/null 2>&1 || fail "external certificate does not verify"
pass "2 CAs and 4 certificates (EC P-256 leaves) in $PKI"

# ---------------------------------------------------------------------------- Secrets
step "TLS Secrets as cert-manager writes them, plus Java keystores" "each service's Secret holds its certificate from the internal CA and ca.crt = the internal CA"
run "kubectl create namespace $NS"
run "kubectl -n $NS create secret generic keystore-password --from-literal=password=$STOREPASS"
run "kubectl -n $NS create secret generic customer-external-tls --type=kubernetes.io/tls --from-file=tls.crt=customer-external.crt --from-file=tls.key=customer-external.key --from-file=ca.crt=external-ca.crt"
for s in customer preference recommendation; do
  run "kubectl -n $NS create secret generic $s-tls --type=kubernetes.io/tls --from-file=tls.crt=$s.crt --from-file=tls.key=$s.key --from-file=ca.crt=internal-ca.crt"
done
run "kubectl -n $NS annotate secret customer-tls preference-tls recommendation-tls annotary.io/keystores=jks,pkcs12 annotary.io/keystore-password-secret=keystore-password/password"
for s in customer preference recommendation; do
  wait_until "keystores in $s-tls" 30 "[ -n \"\$(jp secret $s-tls '{.data.keystore\.jks}')\" ] && [ -n \"\$(jp secret $s-tls '{.data.truststore\.p12}')\" ]"
done
pass "keystore.jks, keystore.p12, truststore.jks, truststore.p12 in 3 Secrets"
run "kubectl -n $NS get secrets --field-selector type=kubernetes.io/tls -o go-template='{{range .items}}{{.metadata.name}}:{{range \$k, \$v := .data}} {{\$k}}{{end}}{{\"\\n\"}}{{end}}'"
run "kubectl -n $NS get secret preference-tls -o jsonpath='{.data.keystore\\.jks}' | base64 -d > preference-keystore-1.jks"
run "keytool -list -keystore preference-keystore-1.jks -storepass $STOREPASS 2>/dev/null | grep -A1 PrivateKeyEntry"
FP1=$(fingerprint preference-keystore-1.jks)
[ -n "$FP1" ] || fail "no fingerprint in preference's keystore.jks"
pass "preference keystore: alias certificate, fingerprint ${FP1:0:23}…"

# ---------------------------------------------------------------------------- services
# $1 service: its example as a user applies it; with a node, the image is the local one
apply_service() {
  if [ -n "$LIVE" ]; then run "sed 's|image: quay.io/example/.*|image: $JAVA_IMAGE|' $ROOT/examples/walkthrough/$1.yaml | kubectl -n $NS apply -f -"
  else run "kubectl -n $NS apply -f $ROOT/examples/walkthrough/$1.yaml"; fi
}
onboarded() { # $1 deployment: digest recorded, exactly one ReplicaSet; with a node, its pod serves TLS
  wait_until "$1 onboarded (annotary.io/observed-config-hash)" 30 "[ -n \"\$(jp deploy $1 '{.metadata.annotations.annotary\.io/observed-config-hash}')\" ]"
  wait_until "one ReplicaSet for $1" 30 "[ \"\$(rs_count $1)\" = 1 ]"
  local h; h=$(jp deploy "$1" '{.metadata.annotations.annotary\.io/observed-config-hash}')
  pass "Deployment $1 watched by annotary (digest ${h:0:12}… recorded, no restart; 1 ReplicaSet)"
  [ -n "$LIVE" ] || return 0
  run "kubectl -n $NS rollout status deployment/$1 --timeout=120s"
  local pod ip
  pod=$(pods_of "$1")
  ip=$(jp pod "$pod" '{.status.podIP}')
  [ -n "$ip" ] && [ "$(printf '%s\n' "$pod" | wc -l)" = 1 ] || fail "$1: expected one running pod with an IP, got '${pod//$'\n'/ }'"
  run "kubectl -n $NS get pod $pod -o wide"
  wait_until "pod $pod serving TLS on $ip:8443" 60 "serves_tls $ip $1.$NS.svc"
  pass "pod $pod: a JVM serving TLS on $ip:8443 from $1-tls's keystore.jks, verified for $1.$NS.svc against the internal CA"
}
ROUTE_COLS="custom-columns=NAME:.metadata.name,HOST:.spec.host,TERMINATION:.spec.tls.termination,FILLED-BY-ANNOTARY:.metadata.annotations.annotary\\.io/managed-fields"

step "customer: Deployment, Service, reencrypt Route" "the Route serves the external certificate and verifies the pod with the internal CA"
apply_service customer
wait_until "customer Route filled" 30 "[ -n \"\$(jp route customer '{.spec.tls.certificate}')\" ] && [ -n \"\$(jp route customer '{.spec.tls.destinationCACertificate}')\" ]"
run "kubectl -n $NS get route customer -o '$ROUTE_COLS'"
run "kubectl -n $NS get route customer -o jsonpath='{.spec.tls.certificate}' | openssl x509 -noout -subject -issuer"
run "kubectl -n $NS get route customer -o jsonpath='{.spec.tls.destinationCACertificate}' | openssl x509 -noout -subject"
jp route customer '{.spec.tls.certificate}' | openssl x509 -noout -issuer | grep -q 'demo external CA' || fail "the Route's certificate is not from the external CA"
jp route customer '{.spec.tls.destinationCACertificate}' | openssl x509 -noout -subject | grep -q 'demo internal CA' || fail "the Route's destination CA is not the internal CA"
pass "Route customer: certificate + key + CA from customer-external-tls (external CA), destinationCACertificate = internal CA"
onboarded customer

step "preference: Deployment, Service, passthrough Route" "TLS ends in the pod: the Route must carry no certificate, and annotary leaves it alone"
apply_service preference
onboarded preference
note "a mistake on purpose: ask annotary to fill the passthrough Route"
run "kubectl -n $NS annotate route preference annotary.io/certs-from-secret=preference-tls"
PREF_ROUTE_RV=$(jp route preference '{.metadata.resourceVersion}')
wait_until "UnsupportedTermination Warning on Route preference" 30 "[ -n \"\$(event_of preference UnsupportedTermination)\" ]"
run "kubectl -n $NS get events --field-selector involvedObject.name=preference,reason=UnsupportedTermination -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message"
run "kubectl -n $NS get route preference -o '$ROUTE_COLS'"
sleep 1 # anything else the operator would do, it does now
[ "$(jp route preference '{.metadata.resourceVersion}')" = "$PREF_ROUTE_RV" ] || fail "annotary wrote the passthrough Route"
[ -z "$(jp route preference '{.spec.tls.certificate}{.spec.tls.key}')" ] || fail "the passthrough Route got a certificate"
pass "Route preference refused with a Warning and not written (resourceVersion $PREF_ROUTE_RV, no certificate)"

step "recommendation: Deployment, Service (internal only)"
apply_service recommendation
onboarded recommendation

step "Ingress variant of customer (clusters without Routes)" "certs-from-secret on an Ingress: an owned copy customer-annotary-tls and a spec.tls entry"
run "kubectl -n $NS apply -f $ROOT/examples/walkthrough/customer-ingress.yaml"
wait_until "customer-annotary-tls and the spec.tls entry" 30 "[ \"\$(jp ingress customer '{.spec.tls[0].secretName}')\" = customer-annotary-tls ] && [ -n \"\$(jp secret customer-annotary-tls '{.data.tls\.crt}')\" ]"
wait_until "ingress-nginx proxy-ssl annotations" 30 "[ -n \"\$(jp ingress customer '{.metadata.annotations.nginx\.ingress\.kubernetes\.io/proxy-ssl-secret}')\" ]"
run "kubectl -n $NS get ingress customer -o jsonpath='{.spec.tls}{\"\\n\"}'"
run "kubectl -n $NS get secret customer-annotary-tls customer-annotary-ca -o custom-columns=NAME:.metadata.name,TYPE:.type,OWNER:.metadata.ownerReferences[0].kind,OWNER-NAME:.metadata.ownerReferences[0].name"
run "kubectl -n $NS get ingress customer -o go-template='{{range \$k, \$v := .metadata.annotations}}{{if ge (len \$k) 24}}{{if eq (slice \$k 0 24) \"nginx.ingress.kubernetes\"}}{{\$k}}: {{\$v}}{{\"\\n\"}}{{end}}{{end}}{{end}}'"
[ "$(jp secret customer-annotary-tls '{.data.tls\.crt}')" = "$(jp secret customer-external-tls '{.data.tls\.crt}')" ] || fail "the copy differs from customer-external-tls"
pass "Ingress customer: TLS from customer-annotary-tls (copy of customer-external-tls); nginx re-encrypts to the pod and verifies it with the internal CA"

# ---------------------------------------------------------------------------- rotation
step "cert-manager renews preference's certificate" "new tls.crt/tls.key in the Secret → keystores regenerated → exactly one rollout of preference, nothing else touched"
CUST_ROUTE_RV=$(jp route customer '{.metadata.resourceVersion}')
PREF_ROUTE_RV=$(jp route preference '{.metadata.resourceVersion}')
ING_RV=$(jp ingress customer '{.metadata.resourceVersion}')
CUST_TLS_RV=$(jp secret customer-tls '{.metadata.resourceVersion}')
KS1=$(jp secret preference-tls '{.data.keystore\.jks}')
for d in customer preference recommendation; do [ "$(rs_count $d)" = 1 ] || fail "$d has $(rs_count $d) ReplicaSets before the rotation, expected 1"; done
note "before: 1 ReplicaSet each; Route customer resourceVersion $CUST_ROUTE_RV, Route preference $PREF_ROUTE_RV, Ingress customer $ING_RV"
declare -A POD_BEFORE=()
if [ -n "$LIVE" ]; then
  for d in customer preference recommendation; do POD_BEFORE[$d]=$(pods_of $d); done
  note "before: pods ${POD_BEFORE[customer]}, ${POD_BEFORE[preference]}, ${POD_BEFORE[recommendation]}"
fi
show "openssl x509 -req -CA internal-ca.crt … → preference-2.crt   (new key, same SANs: cert-manager's part)"
leaf preference-2 internal-ca preference "DNS:preference-demo.apps.example.com,DNS:preference.$NS.svc"
T_ROT=$(now_ms) MARK=$T_ROT
run "kubectl -n $NS patch secret preference-tls -p '{\"data\":{\"tls.crt\":\"'\$(base64 -w0 preference-2.crt)'\",\"tls.key\":\"'\$(base64 -w0 preference-2.key)'\"}}'"
wait_until "preference's keystore.jks regenerated" 30 "[ \"\$(jp secret preference-tls '{.data.keystore\.jks}')\" != \"\$KS1\" ]"
T_KS=$(now_ms)
run "kubectl -n $NS get secret preference-tls -o jsonpath='{.data.keystore\\.jks}' | base64 -d > preference-keystore-2.jks"
run "keytool -list -keystore preference-keystore-2.jks -storepass $STOREPASS 2>/dev/null | grep fingerprint"
FP2=$(fingerprint preference-keystore-2.jks)
CERT_FP=$(openssl x509 -in preference-2.crt -noout -fingerprint -sha256 | cut -d= -f2)
[ "$FP2" != "$FP1" ] || fail "keystore fingerprint unchanged"
[ "$FP2" = "$CERT_FP" ] || fail "the new keystore does not hold preference-2.crt ($FP2 vs $CERT_FP)"
pass "new keystore fingerprint ${FP2:0:23}… (was ${FP1:0:23}…) = preference-2.crt, $(secs $((T_KS - T_ROT))) after the patch"
wait_until "a second ReplicaSet for preference" 60 "[ \"\$(rs_count preference)\" -ge 2 ]"
T_RS=$(now_ms)
[ "$(rs_count preference)" = 2 ] || fail "preference has $(rs_count preference) ReplicaSets, expected 2"
pass "one new ReplicaSet for preference, $(secs $((T_RS - T_ROT))) after the patch (the reload settle window is ${SETTLE_S} s)"
run "kubectl -n $NS get events --field-selector involvedObject.kind=Deployment,involvedObject.name=preference,reason=Reloaded -o custom-columns=REASON:.reason,MESSAGE:.message"
note "watching for $(secs $QUIET_MS) more (a settle window and a margin): nothing else may roll"
sleep "$((QUIET_MS / 1000)).$((QUIET_MS % 1000 / 100))"
run "kubectl -n $NS get rs -o 'custom-columns=REPLICASET:.metadata.name,OWNER:.metadata.ownerReferences[0].name,CONFIG-HASH:.spec.template.metadata.annotations.annotary\\.io/config-hash'"
P=$(rs_count preference) CU=$(rs_count customer) RE=$(rs_count recommendation)
[ "$P" = 2 ] && [ "$CU" = 1 ] && [ "$RE" = 1 ] || fail "ReplicaSets after the settle window: preference $P (want 2), customer $CU (want 1), recommendation $RE (want 1)"
pass "still exactly one new ReplicaSet: preference 2, customer 1, recommendation 1"
run "kubectl -n $NS get route customer preference -o custom-columns=NAME:.metadata.name,RESOURCE-VERSION:.metadata.resourceVersion"
[ "$(jp route customer '{.metadata.resourceVersion}')" = "$CUST_ROUTE_RV" ] || fail "Route customer was written by preference's rotation"
[ "$(jp route preference '{.metadata.resourceVersion}')" = "$PREF_ROUTE_RV" ] || fail "the passthrough Route preference was written"
[ "$(jp ingress customer '{.metadata.resourceVersion}')" = "$ING_RV" ] || fail "Ingress customer was written by preference's rotation"
[ "$(jp secret customer-tls '{.metadata.resourceVersion}')" = "$CUST_TLS_RV" ] || fail "Secret customer-tls was written by preference's rotation"
pass "Route customer ($CUST_ROUTE_RV), Route preference ($PREF_ROUTE_RV), Ingress customer ($ING_RV) and customer-tls unchanged"
if [ -n "$LIVE" ]; then
  run "kubectl -n $NS rollout status deployment/preference --timeout=120s"
  wait_until "one preference pod, not ${POD_BEFORE[preference]}" 60 "[ \"\$(pods_of preference)\" != '${POD_BEFORE[preference]}' ] && [ \"\$(pods_of preference | wc -l)\" = 1 ]"
  run "kubectl -n $NS get pods -o wide"
  NEW_POD=$(pods_of preference)
  NEW_RS=$(jp pod "$NEW_POD" '{.metadata.ownerReferences[0].name}')
  [ -n "$(jp rs "$NEW_RS" '{.spec.template.metadata.annotations.annotary\.io/config-hash}')" ] || fail "pod $NEW_POD is not of the rollout's ReplicaSet"
  for d in customer recommendation; do
    [ "$(pods_of $d)" = "${POD_BEFORE[$d]}" ] || fail "$d's pod changed: ${POD_BEFORE[$d]} → $(pods_of $d | tr '\n' ' ')"
  done
  pass "preference's pod replaced once: ${POD_BEFORE[preference]} → $NEW_POD (ReplicaSet $NEW_RS); customer's ${POD_BEFORE[customer]} and recommendation's ${POD_BEFORE[recommendation]} kept"
fi

# ---------------------------------------------------------------------------- JVM proof
# with a node the server is preference's new pod (its mounted keystore.jks); without, a JVM here with the same store
if [ -n "$LIVE" ]; then
  step "A JVM TLS handshake with the generated stores" "server: preference's new pod $NEW_POD (keystore.jks from its Secret volume); client: customer's truststore.jks (internal CA)"
else
  step "A JVM TLS handshake with the generated stores" "server: preference's rotated keystore.jks; client: customer's truststore.jks (internal CA)"
fi
run "kubectl -n $NS get secret customer-tls -o jsonpath='{.data.truststore\\.jks}' | base64 -d > customer-truststore.jks"
if [ -n "$LIVE" ]; then
  TLS_HOST=$(jp pod "$NEW_POD" '{.status.podIP}') TLS_PORT=8443 SERVER="pod $NEW_POD"
  wait_until "pod $NEW_POD serving TLS on $TLS_HOST:8443" 60 "serves_tls $TLS_HOST preference.$NS.svc"
  jvm_client customer-truststore.jks "$TLS_PORT" "$TLS_HOST"
else
  TLS_HOST=127.0.0.1 SERVER="the JVM"
  jvm_handshake preference-keystore-2.jks customer-truststore.jks
fi
[ -n "$CIPHER" ] || fail "JVM handshake failed"
[ "$PEER_FP" = "$CERT_FP" ] || fail "$SERVER serves ${PEER_FP:-no certificate}, not preference-2.crt ($CERT_FP)"
pass "JVM handshake OK: customer's truststore trusts $SERVER, which serves preference-2.crt (${CERT_FP:0:23}…), cipher $CIPHER"
run "openssl s_client -connect $TLS_HOST:$TLS_PORT -CAfile internal-ca.crt -verify_hostname preference.$NS.svc -verify_return_error -brief </dev/null 2>&1 | grep -E 'Protocol|Ciphersuite|Peer certificate|Verification'"
PROTO=$(openssl s_client -connect "$TLS_HOST:$TLS_PORT" -CAfile internal-ca.crt -verify_hostname "preference.$NS.svc" -verify_return_error -brief </dev/null 2>&1 | sed -n 's/^Protocol version: //p')
[ -n "$PROTO" ] || fail "openssl could not verify $SERVER as preference.$NS.svc"
stop_jvm
pass "$PROTO; $SERVER serves the renewed certificate, verified against the internal CA for preference.$NS.svc"

# ---------------------------------------------------------------------------- act 2: no external PKI
ISSUED=(customer-issued preference-issued recommendation-issued)
step "Act 2: no external PKI — annotary issues every certificate" "a CA annotary generates; each service's Secret asks it for a certificate and gets its keystores"
cat > issued.yaml <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: demo-ca
  annotations:
    annotary.io/generate-ca: "true"
    annotary.io/key-algorithm: ec-p256
YAML
for s in customer preference recommendation; do
  cat >> issued.yaml <<YAML
---
apiVersion: v1
kind: Secret
metadata:
  name: $s-issued
  annotations:
    annotary.io/issuer: demo-ca
    annotary.io/dns-names: $s.$NS.svc,$s.$NS.svc.cluster.local
    annotary.io/key-algorithm: ec-p256
    annotary.io/keystores: jks,pkcs12
    annotary.io/keystore-password-secret: keystore-password/password
YAML
done
run "sed -n 1,20p issued.yaml"
run "kubectl -n $NS apply -f issued.yaml"
for s in "${ISSUED[@]}"; do
  wait_until "a certificate and keystores in $s" 60 "[ -n \"\$(jp secret $s '{.data.keystore\.jks}')\" ]"
done
run "kubectl -n $NS get secrets demo-ca ${ISSUED[*]} -o 'custom-columns=NAME:.metadata.name,TYPE:.type,ISSUED-BY:.metadata.annotations.annotary\\.io/issued-by,NOT-AFTER:.metadata.annotations.annotary\\.io/not-after,RENEW-AT:.metadata.annotations.annotary\\.io/renew-at'"
jp secret demo-ca '{.data.tls\.crt}' | base64 -d > demo-ca-1.crt
for s in "${ISSUED[@]}"; do
  jp secret "$s" '{.data.tls\.crt}' | base64 -d > "$s.crt"
  openssl verify -CAfile demo-ca-1.crt "$s.crt" >/dev/null 2>&1 || fail "$s's certificate does not verify against demo-ca"
done
run "openssl verify -CAfile demo-ca-1.crt ${ISSUED[*]/%/.crt}"
run "openssl x509 -in preference-issued.crt -noout -subject -issuer -ext subjectAltName,extendedKeyUsage"
pass "a generated CA and 3 certificates issued into their Secrets, each with its keystores; openssl verifies them"

step "A JVM handshake with the issued stores" "server: preference-issued's keystore.jks; client: customer-issued's truststore.jks (the generated CA)"
store_of preference-issued keystore.jks pref-issued-1.jks
store_of customer-issued truststore.jks cust-issued-1.jks
jvm_handshake pref-issued-1.jks cust-issued-1.jks
stop_jvm
[ -n "$CIPHER" ] || fail "JVM handshake with the issued stores failed"
pass "JVM handshake OK with annotary's own PKI, cipher $CIPHER"

step "CA rotation without a failed handshake" "a new CA key: trust both → re-issue → drop the old CA, ${GRACE_S} s apart (--ca-rotation-grace); a JVM handshake at every step"
stage_handshake() { # $1 stage name, $2 n: files suffix
  store_of preference-issued keystore.jks "pref-issued-$2.jks"
  store_of customer-issued truststore.jks "cust-issued-$2.jks"
  jvm_handshake "pref-issued-$2.jks" "cust-issued-$2.jks"
  stop_jvm
  [ -n "$CIPHER" ] || fail "the JVM handshake failed at: $1"
  pass "$1: JVM handshake OK (preference-issued serves, customer-issued trusts)"
}
leaf_from_new_ca() { jp secret preference-issued '{.data.tls\.crt}' | base64 -d > pref-now.crt && openssl verify -CAfile demo-ca-2.crt pref-now.crt; }
run "kubectl -n $NS annotate secret demo-ca --overwrite annotary.io/key-algorithm=ec-p384   # the generated CA's request changes: a new CA"
wait_until "the new CA in demo-ca" 60 "! cmp -s demo-ca-1.crt <(jp secret demo-ca '{.data.tls\.crt}' | base64 -d)"
jp secret demo-ca '{.data.tls\.crt}' | base64 -d > demo-ca-2.crt
wait_until "both CAs trusted by customer-issued and preference-issued" 60 "[ \"\$(pem_count customer-issued)\" = 2 ] && [ \"\$(pem_count preference-issued)\" = 2 ]"
wait_until "customer-issued's truststore rebuilt with both" 60 "store_of customer-issued truststore.jks t.jks && [ \"\$(keytool -list -keystore t.jks -storepass $STOREPASS 2>/dev/null | grep -c trustedCertEntry)\" = 2 ]"
leaf_from_new_ca >/dev/null 2>&1 && fail "preference-issued's leaf is from the new CA before its peers trust it"
stage_handshake "step 1, trust both (leaf still from the old CA)" 2
wait_until "preference-issued re-issued by the new CA" $((GRACE_S * 3)) "leaf_from_new_ca"
wait_until "preference-issued's keystore rebuilt" 60 "store_of preference-issued keystore.jks k.jks && [ \"\$(fingerprint k.jks)\" = \"\$(openssl x509 -in pref-now.crt -noout -fingerprint -sha256 | cut -d= -f2)\" ]"
stage_handshake "step 2, re-issued by the new CA (both CAs still trusted)" 3
wait_until "the old CA dropped" $((GRACE_S * 3)) "[ \"\$(pem_count customer-issued)\" = 1 ] && [ \"\$(pem_count preference-issued)\" = 1 ]"
wait_until "customer-issued's truststore rebuilt with the new CA only" 60 "store_of customer-issued truststore.jks t.jks && [ \"\$(keytool -list -keystore t.jks -storepass $STOREPASS 2>/dev/null | grep -c trustedCertEntry)\" = 1 ]"
wait_until "customer-issued re-issued by the new CA" 60 "jp secret customer-issued '{.data.tls\.crt}' | base64 -d | openssl verify -CAfile demo-ca-2.crt"
stage_handshake "step 3, old CA dropped" 4
run "kubectl -n $NS get events --field-selector involvedObject.name=preference-issued,reason=CARotation -o custom-columns=REASON:.reason,MESSAGE:.message"
pass "CA rotated with a successful JVM handshake at every step"

# ---------------------------------------------------------------------------- report
finish_step
printf '\n%sSummary%s\n' "$B" "$N"
for row in "${SUMMARY[@]}"; do
  IFS='|' read -r n title ms <<<"$row"
  printf '  %s✔%s %2d. %-62s %8s\n' "$G" "$N" "$n" "$title" "$(secs "$ms")"
done
printf '%sAll steps passed.%s\n' "$B" "$N"
if [ "${DEMO_STOP_OPERATOR:-}" = 1 ]; then
  stop_operator
  echo "Operator stopped (DEMO_STOP_OPERATOR=1); the control plane keeps running. KUBECONFIG=$KUBECONFIG"
else
  echo "The cluster and the operator keep running: export KUBECONFIG=$KUBECONFIG"
  echo "Operator log: $STATE/demo-operator.log; PEM files and stores: $PKI; stop everything with: make demo-down"
  [ -z "$LIVE" ] || echo "The services' pods keep running: kubectl -n $NS get pods -o wide (TLS on <pod IP>:8443 from this machine)"
fi
