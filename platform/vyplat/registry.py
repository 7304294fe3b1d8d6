"""The schema registry (vygoda's own, Confluent REST API) over HTTPS with the platform CA."""
import json
import ssl
import urllib.request

from . import paths, postgres, procs, secrets

LISTEN = "127.0.0.1:18081"
URL = f"https://{LISTEN}"
METRICS = "127.0.0.1:9105"
USERS_FILE = paths.SECRETS / "registry-users.json"


def healthy() -> bool:
    ctx = ssl.create_default_context(cafile=str(paths.TLS / "ca.pem"))
    with urllib.request.urlopen(f"{URL}/subjects", context=ctx, timeout=3) as r:
        return r.status == 200


def start() -> None:
    users = {p: secrets.password(p) for p in secrets.principals()}
    secrets.write_private(USERS_FILE, json.dumps(users, indent=2))
    binary = paths.BIN_DIR / "vygoda-schema-registry"
    if not binary.exists():
        raise procs.PlatformError(f"{binary} missing; `cargo build` first")
    procs.start("schema-registry", [
        binary, "serve", "--listen", LISTEN,
        "--tls-cert", paths.TLS / "registry.pem", "--tls-key", paths.TLS / "registry.key",
        "--users-file", USERS_FILE, "--metrics-addr", METRICS,
    ], env={"VYGODA_REGISTRY_DATABASE_URL": postgres.url("vygoda", "vygoda")})
    procs.wait_for("schema registry", healthy, 60, "schema-registry")
    procs.run([binary, "register", "--dir", paths.REPO / "kafka" / "schemas", "--url", URL,
               "--ca", paths.TLS / "ca.pem", "--user", "admin", "--password-file", paths.SECRETS / "admin"])


def stop() -> None:
    procs.stop("schema-registry")
