#!/usr/bin/env bash
# Makes the local platform's certificate authority and one certificate per identity: Kafka nodes,
# service principals, the registry's server. The CN is the name; brokers map it to User:<name>.
#
#   kafka/make-certs.sh OUT_DIR NAME...
#
# OUT_DIR/ca.pem (+ ca.key) is created once and reused, so clients configured with it keep working
# across restarts; each NAME gets NAME.key + NAME.pem (leaf + CA chain), valid for 127.0.0.1 / localhost, for
# TLS servers and clients alike.
# Existing files are kept (idempotent). Private keys are readable by the owner only.
# Production brokers get certificates from the company CA instead; see kafka/README.md.
set -euo pipefail
out=${1:?usage: make-certs.sh OUT_DIR NAME...}
shift
mkdir -p "$out"
chmod 700 "$out"
umask 077

if [[ ! -f $out/ca.pem ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -subj "/O=vygoda local/CN=vygoda local CA" \
    -keyout "$out/ca.key" -out "$out/ca.pem" 2>/dev/null
fi
# Clients (and the PostgreSQL-owned registry user) must read the CA, not its key.
chmod 644 "$out/ca.pem"

for name in "$@"; do
  # Kept when present and usable as both server and client (mutual TLS); certificates made
  # before client authentication was required are made again.
  if [[ -f $out/$name.pem && -f $out/$name.key ]] &&
    openssl x509 -in "$out/$name.pem" -noout -ext extendedKeyUsage 2>/dev/null | grep -q 'Client Auth'; then
    continue
  fi
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/O=vygoda local/CN=$name" \
    -keyout "$out/$name.key" -out "$out/$name.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' \
    >"$out/$name.ext"
  openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$out/$name.ext" -out "$out/$name.crt" 2>/dev/null
  cat "$out/$name.crt" "$out/ca.pem" >"$out/$name.pem"
  rm -f "$out/$name.csr" "$out/$name.ext" "$out/$name.crt"
done
