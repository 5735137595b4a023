#!/usr/bin/env bash
# TEST ONLY certificates for the "mtls" example, made with openssl (Debian's `openssl` package):
#   ca.pem / ca.key                 a test CA; Envoy trusts it for client certificates
#   server.pem / server.key         Envoy's certificate for 127.0.0.1 and localhost, issued by the test CA
#   client-a.pem / client-a.key     device A's client certificate, issued by the test CA
#   client-b.pem / client-b.key     device B's client certificate, issued by the test CA
#   other-ca.pem, client-other.pem / client-other.key   a client certificate from a CA Envoy does not trust
# Every key is a fresh P-256 key; nothing here is secret or reusable. Usage: make-certs.sh [DIR]
# (default: envoy/examples/mtls/certs, the paths envoy.yaml names; run from the repository root).
set -euo pipefail
dir="${1:-envoy/examples/mtls/certs}"
days="${TOLLGATE_CERT_DAYS:-30}"
mkdir -p "$dir"
cd "$dir"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

ca() { # name subject
  openssl req -x509 "${ec[@]}" -keyout "$1.key" -out "$1.pem" -days "$days" -subj "$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # name ca subject extensions...
  local name="$1" issuer="$2" subject="$3"
  shift 3
  openssl req "${ec[@]}" -keyout "$name.key" -out "$name.csr" -subj "$subject" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$@" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial -out "$name.pem" \
    -days "$days" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

ca ca '/CN=tollgate mtls example CA (TEST ONLY)'
leaf server ca '/CN=127.0.0.1' extendedKeyUsage=serverAuth subjectAltName=IP:127.0.0.1,DNS:localhost
leaf client-a ca '/CN=device-a (TEST ONLY)' extendedKeyUsage=clientAuth
leaf client-b ca '/CN=device-b (TEST ONLY)' extendedKeyUsage=clientAuth
ca other-ca '/CN=a CA the example does not trust (TEST ONLY)'
leaf client-other other-ca '/CN=device-other (TEST ONLY)' extendedKeyUsage=clientAuth
rm -f ./*.srl
chmod 600 ./*.key
echo "TEST ONLY certificates in $dir: ca.pem server.pem client-a.pem client-b.pem client-other.pem"
