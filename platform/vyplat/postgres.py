"""vygoda's own PostgreSQL instance: the schema registry and the jobs driver's run history. A
private instance under .vygoda/, so the machine's own PostgreSQL (if any) is untouched."""
import glob
import os
import pwd
import subprocess

from . import paths, secrets
from .procs import PlatformError, run, wait_for

PORT = 15432
DATA = paths.STATE / "pgdata"
SOCKET = paths.STATE / "pgsock"
DATABASES = {"vygoda": "vygoda", "store": "store"}


def _bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise PlatformError("PostgreSQL server binaries not found; apt-get install postgresql")
    return found[-1]


def _as_owner(argv: list) -> list:
    # PostgreSQL refuses to run as root; as root we run it as the Debian `postgres` user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _owner_ids():
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        return pw.pw_uid, pw.pw_gid
    return os.getuid(), os.getgid()


def url(role: str, database: str) -> str:
    return f"postgres://{role}:{secrets.password('pg-' + role)}@127.0.0.1:{PORT}/{database}"


def is_ready() -> bool:
    return subprocess.run([_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(PORT)]).returncode == 0


def start() -> None:
    uid, gid = _owner_ids()
    for d in (DATA, SOCKET):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, uid, gid)
    os.chmod(DATA, 0o700)
    if not (DATA / "PG_VERSION").exists():
        run(_as_owner([_bin("initdb"), "-D", DATA, "-U", "postgres", "--auth-local=trust",
                       "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]))
    if not is_ready():
        log = paths.LOGS / "postgres.log"
        log.touch()
        os.chown(log, uid, gid)
        run(_as_owner([_bin("pg_ctl"), "-D", DATA, "-l", log, "-w", "-t", "60", "start",
                       "-o", f"-p {PORT} -h 127.0.0.1 -k {SOCKET} -c max_connections=300 "
                             "-c shared_buffers=64MB"]))
        wait_for("PostgreSQL", is_ready, 60, "postgres")
    _provision()


def psql(sql: str, database: str = "postgres") -> str:
    return run(_as_owner([_bin("psql"), "-h", SOCKET, "-p", str(PORT), "-U", "postgres", "-d", database,
                          "-v", "ON_ERROR_STOP=1", "-tAc", sql])).stdout


def _provision() -> None:
    for role in sorted(set(DATABASES.values())):
        pw = secrets.password("pg-" + role)
        exists = psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'").strip()
        verb = "ALTER" if exists else "CREATE"
        psql(f"{verb} ROLE {role} LOGIN PASSWORD '{pw}'")
    for db, owner in DATABASES.items():
        if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'").strip():
            psql(f"CREATE DATABASE {db} OWNER {owner}")
    # Test fixtures create throw-away databases for isolated runs of the registry and driver.
    psql("ALTER ROLE vygoda CREATEDB")


def stop() -> bool:
    if not (DATA / "postmaster.pid").exists():
        return False
    subprocess.run(_as_owner([_bin("pg_ctl"), "-D", DATA, "-m", "fast", "-w", "stop"]), capture_output=True)
    return True
