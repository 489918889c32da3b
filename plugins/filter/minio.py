# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Filters of the minio role: the drive layout (volumes, erasure set sizes) and drives left on the root filesystem."""

from __future__ import annotations

# Documented next to this file in one file per filter, so that each gets its own ansible-doc page:
# minio_volumes.yml, minio_erasure_set_sizes.yml, minio_root_fs_drives.yml.

from collections.abc import Mapping


def minio_volumes(hosts, hostvars, port, drives=None):
    """MINIO_VOLUMES: one https://<host>:<port><drive> endpoint per drive of every host when there are several
    hosts, in group order (MinIO forms the erasure sets from their order and count); the local `drives` otherwise."""
    hosts = list(hosts or [])
    if len(hosts) <= 1:
        return " ".join(str(drive) for drive in drives or [])
    endpoints = []
    for host in hosts:
        try:
            host_drives = hostvars[host]["minio_drives"]
        except KeyError:
            host_drives = []
        endpoints += ["https://%s:%s%s" % (host, port, drive) for drive in host_drives or []]
    return " ".join(endpoints)


def minio_erasure_set_sizes(total_drives, host_count=1):
    """The erasure set sizes MinIO can use for `total_drives` over `host_count` hosts: 2-16 drives that split the
    total evenly and, across several hosts, a multiple or a divisor of the host count."""
    total, hosts = int(total_drives), int(host_count)
    return [size for size in range(2, 17)
            if total % size == 0 and (hosts == 1 or size % hosts == 0 or hosts % size == 0)]


def _mount_point(mount):
    return str(mount["mount"] if isinstance(mount, Mapping) else mount)


def minio_root_fs_drives(drives, mounts):
    """The drives whose filesystem is the root one: the longest mount point that holds the drive is / (or none is).

    A drive that is not a mount point of its own is on its parent's filesystem: a forgotten disk fills the system.
    """
    mount_points = [_mount_point(mount).rstrip("/") for mount in mounts or []]
    found = []
    for drive in drives or []:
        path = str(drive).rstrip("/") + "/"
        holder = max((len(point) for point in mount_points if path.startswith(point + "/")), default=0)
        if holder == 0:
            found.append(drive)
    return found


class FilterModule:
    def filters(self):
        return {
            "minio_erasure_set_sizes": minio_erasure_set_sizes,
            "minio_root_fs_drives": minio_root_fs_drives,
            "minio_volumes": minio_volumes,
        }
