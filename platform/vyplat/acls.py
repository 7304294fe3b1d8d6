"""Make each cluster's ACLs equal to kafka/acls.toml: add what is missing, remove what is not in
the table. The bindings come from `vygoda-acls bindings --local`, the code that also renders the
production kafka-acls scripts, so local and production grants cannot drift apart."""
import json
import subprocess

from . import kafka, paths
from .procs import PlatformError


def wanted(cluster: str) -> set:
    """(principal, resource type, name, pattern type, operation) of every binding the table gives."""
    binary = paths.BIN_DIR / "vygoda-acls"
    if not binary.exists():
        raise PlatformError(f"{binary} missing; `cargo build` first")
    out = subprocess.run([binary, "--acls", paths.REPO / "kafka" / "acls.toml", "bindings",
                          "--cluster", cluster, "--local"], capture_output=True, text=True)
    if out.returncode != 0:
        raise PlatformError(f"vygoda-acls bindings --cluster {cluster}: {out.stderr.strip()}")
    return {(b["principal"], b["resource_type"], b["name"], b["pattern_type"], b["operation"])
            for b in json.loads(out.stdout)}


def _binding(t: tuple):
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    principal, rtype, name, ptype, op = t
    return AclBinding(ResourceType[rtype], name, ResourcePatternType[ptype], principal, "*",
                      AclOperation[op], AclPermissionType.ALLOW)


def present(cluster: str, admin=None) -> set:
    """Every ACL binding the cluster holds, in the same tuple form (host `*`, ALLOW only)."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    admin = admin or kafka.admin_client(cluster)
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
    found = set()
    for b in admin.describe_acls(everything, request_timeout=30).result():
        if b.host != "*" or b.permission_type != AclPermissionType.ALLOW:
            # Anything else was not made from the table: removed below as "not in the table".
            found.add(("!", b))
            continue
        found.add((b.principal, b.restype.name, b.name, b.resource_pattern_type.name, b.operation.name))
    return found


def sync(cluster: str) -> tuple:
    """Add missing bindings and delete extra ones; returns (added, removed) counts."""
    from confluent_kafka.admin import AclBindingFilter

    admin = kafka.admin_client(cluster)
    want, have = wanted(cluster), present(cluster, admin)
    add = sorted(want - have, key=str)
    extra = [h for h in have if h not in want]
    if add:
        for binding, future in admin.create_acls([_binding(t) for t in add], request_timeout=30).items():
            try:
                future.result()
            except Exception as error:  # noqa: BLE001
                raise PlatformError(f"{cluster}: adding ACL {binding}: {error}") from error
    if extra:
        filters = []
        for h in extra:
            b = h[1] if h[0] == "!" else _binding(h)
            filters.append(AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host,
                                            b.operation, b.permission_type))
        for binding, future in admin.delete_acls(filters, request_timeout=30).items():
            try:
                future.result()
            except Exception as error:  # noqa: BLE001
                raise PlatformError(f"{cluster}: removing ACL {binding}: {error}") from error
    return len(add), len(extra)
