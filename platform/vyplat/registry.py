"""The schema registry (vygoda's own, Confluent REST API) over mutual TLS with the platform CA:
callers are known by their certificates, and kafka/acls.toml says what each may do."""
import ssl
import urllib.request

from . import paths, postgres, procs

LISTEN = "127.0.0.1:18081"
URL = f"https://{LISTEN}"
METRICS = "127.0.0.1:9105"


def healthy() -> bool:
    # Asked as `monitoring`: the registry answers no one without a certificate.
    ctx = ssl.create_default_context(cafile=str(paths.TLS / "ca.pem"))
    ctx.load_cert_chain(paths.TLS / "monitoring.pem", paths.TLS / "monitoring.key")
    with urllib.request.urlopen(f"{URL}/subjects", context=ctx, timeout=3) as r:
        return r.status == 200


def start() -> None:
    binary = paths.BIN_DIR / "vygoda-schema-registry"
    if not binary.exists():
        raise procs.PlatformError(f"{binary} missing; `cargo build` first")
    procs.start("schema-registry", [
        binary, "serve", "--listen", LISTEN,
        "--tls-cert", paths.TLS / "registry.pem", "--tls-key", paths.TLS / "registry.key",
        "--client-ca", paths.TLS / "ca.pem", "--acls", paths.REPO / "kafka" / "acls.toml", "--local",
        "--metrics-addr", METRICS,
    ], env={"VYGODA_REGISTRY_DATABASE_URL": postgres.url("vygoda", "vygoda")})
    procs.wait_for("schema registry", healthy, 60, "schema-registry")
    procs.run([binary, "register", "--dir", paths.REPO / "kafka" / "schemas", "--url", URL,
               "--ca", paths.TLS / "ca.pem", "--cert", paths.TLS / "admin.pem", "--key", paths.TLS / "admin.key"])


def stop() -> None:
    procs.stop("schema-registry")
