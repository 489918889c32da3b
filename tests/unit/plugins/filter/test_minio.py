import pytest

from ansible_collections.llm_infra.cluster.plugins.filter.minio import minio_erasure_set_sizes, minio_root_fs_drives, minio_volumes

HOSTVARS = {
    "st-1": {"minio_drives": ["/srv/minio1", "/srv/minio2"]},
    "st-2": {"minio_drives": ["/srv/minio1", "/srv/minio2"]},
    "st-3": {},
}


def test_volumes_of_a_cluster_list_every_drive_of_every_host_in_group_order():
    assert minio_volumes(["st-2", "st-1", "st-3"], HOSTVARS, 9000, ["/local"]) == (
        "https://st-2:9000/srv/minio1 https://st-2:9000/srv/minio2 https://st-1:9000/srv/minio1 https://st-1:9000/srv/minio2")


def test_volumes_of_one_host_are_its_local_drives():
    assert minio_volumes(["st-1"], HOSTVARS, 9000, ["/data/a", "/data/b"]) == "/data/a /data/b"
    assert minio_volumes([], HOSTVARS, 9000, ["/data/a"]) == "/data/a"


@pytest.mark.parametrize("drives, hosts, expected", [
    (1, 1, []), (2, 1, [2]), (7, 1, [7]), (16, 1, [2, 4, 8, 16]), (17, 1, []),
    (8, 4, [2, 4, 8]), (6, 4, [2]), (12, 3, [3, 6, 12]), (9, 3, [3, 9]), (10, 4, [2]), (5, 5, [5]), (3, 2, []),
])
def test_erasure_set_sizes(drives, hosts, expected):
    assert minio_erasure_set_sizes(drives, hosts) == expected


MOUNTS = ["/", "/boot", "/srv/minio1", "/srv/minio2/", "/data"]


def test_drives_on_the_root_filesystem():
    drives = ["/srv/minio1", "/srv/minio1/sub", "/srv/minio2", "/srv/minio3", "/srv/minio10", "/data/", "/bootx", "/"]
    assert minio_root_fs_drives(drives, MOUNTS) == ["/srv/minio3", "/srv/minio10", "/bootx", "/"]


def test_mount_facts_are_read_as_ansible_gathers_them():
    mounts = [{"mount": point, "device": "/dev/x"} for point in MOUNTS]
    assert minio_root_fs_drives(["/srv/minio1", "/srv/minio4"], mounts) == ["/srv/minio4"]
    # No mount point holds the drive (a container without /): it counts as the root filesystem.
    assert minio_root_fs_drives(["/srv/minio1"], []) == ["/srv/minio1"]


OLD_VOLUMES = """{% if __minio_distributed %}{% for host in __minio_hosts %}{% for drive in hostvars_[host]['minio_drives'] | default([])
%}https://{{ host }}:{{ minio_port }}{{ drive }} {% endfor %}{% endfor %}{% else %}{{ minio_drives | join(' ') }}{% endif %}"""
OLD_SET_SIZES = """{% set sizes = [] %}{% for size in range(2, 17) %}{% if __minio_total_drives | int % size == 0
   and (__minio_hosts | length == 1 or size % __minio_hosts | length == 0 or __minio_hosts | length % size == 0)
%}{% set _ = sizes.append(size) %}{% endif %}{% endfor %}{{ sizes }}"""
OLD_ROOT_DRIVES = """{% set found = [] %}{% for drive in minio_drives %}{% set holders = [] %}{%
   for mount in __minio_mount_points if (drive.rstrip('/') ~ '/').startswith(mount.rstrip('/') ~ '/') %}{%
   set _ = holders.append(mount.rstrip('/') | length) %}{% endfor %}{%
   if (holders | max | default(0)) == 0 %}{% set _ = found.append(drive) %}{% endif %}{% endfor %}{{ found }}"""


def test_same_results_as_the_jinja_the_role_used(render_in_play):
    layouts = [(["st-2", "st-1", "st-3"], ["/local"]), (["st-1"], ["/data/a", "/data/b"])]
    sizes = [(drives, hosts) for drives in (1, 2, 6, 8, 9, 12, 16, 24) for hosts in (1, 2, 3, 4)]
    drive_sets = [["/srv/minio1", "/srv/minio1/sub", "/srv/minio2", "/srv/minio3", "/srv/minio10", "/data/", "/bootx", "/"],
                  ["/srv/minio1"]]
    cases = [(OLD_VOLUMES, {"__minio_hosts": hosts, "__minio_distributed": len(hosts) > 1, "hostvars_": HOSTVARS,
                            "minio_port": 9000, "minio_drives": drives}) for hosts, drives in layouts]
    cases += [(OLD_SET_SIZES, {"__minio_total_drives": drives, "__minio_hosts": ["h%d" % i for i in range(hosts)]})
              for drives, hosts in sizes]
    cases += [(OLD_ROOT_DRIVES, {"minio_drives": drives, "__minio_mount_points": MOUNTS}) for drives in drive_sets]
    rendered = iter(render_in_play(cases))
    for hosts, drives in layouts:
        # The role's environment file writes the volumes trimmed.
        assert minio_volumes(hosts, HOSTVARS, 9000, drives) == next(rendered).strip()
    for drives, hosts in sizes:
        assert minio_erasure_set_sizes(drives, hosts) == next(rendered)
    for drives in drive_sets:
        assert minio_root_fs_drives(drives, MOUNTS) == next(rendered)
