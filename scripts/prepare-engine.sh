#!/usr/bin/env bash
# Prepare the local container engine that hosts the test machines and the sandbox:
# a Docker engine that answers, and systemd base images for Debian 12 and 13.
# Idempotent: installs, starts and builds only what is missing.
set -euo pipefail

IMAGE_REPO="${LLM_INFRA_IMAGE_REPO:-llm-infra/debian}"
RELEASES="${LLM_INFRA_RELEASES:-bookworm:12 trixie:13}"
# Packages every test host needs before Ansible can manage it (SSH for the sandbox, Python for modules; python3-apt
# because Mitogen runs the apt module in process, where it cannot install its own library and respawn).
INCLUDE="systemd,systemd-sysv,python3,python3-apt,sudo,iproute2,ca-certificates,dbus,gnupg,curl,openssh-server"
# The base role's baseline packages (base_packages in its defaults) come preinstalled, as on a host the base role
# has already run on: every scenario and the sandbox then skip that install, and the role's apt task only checks
# them. They are installed with apt inside the new root (debootstrap's --include resolves too few dependencies for
# some of them). A changed list changes the label below and so rebuilds the images.
BASE_PACKAGES=$(sed -n '/^base_packages:/,/^[^ ]/{s/^  - \([a-z0-9.+-]*\)$/\1/p}' \
  "$(dirname "$0")/../roles/base/defaults/main.yml" | paste -sd' ' -)
[ -n "$BASE_PACKAGES" ] || { echo "[prepare-engine] ERROR: no base_packages found in roles/base/defaults/main.yml" >&2; exit 1; }
# An image built from another package list or recipe is rebuilt: both are recorded as a label (bump RECIPE when
# build_image changes what goes into the image).
RECIPE=3
INCLUDE_LABEL="llm_infra.image.include=$(printf '%s %s %s' "$RECIPE" "$INCLUDE" "$BASE_PACKAGES" | sha256sum | cut -c1-16)"

log() { printf '[prepare-engine] %s\n' "$*" >&2; }
die() { printf '[prepare-engine] ERROR: %s\n' "$*" >&2; exit 1; }

engine_answers() { docker info >/dev/null 2>&1; }

ensure_engine() {
  if engine_answers; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    die "no Docker engine answers (docker info failed) and this user is not root: start a Docker engine, or add this user to the docker group, or run as root so that Debian's docker.io can be installed"
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "dockerd/debootstrap missing and apt-get is not available: install a Docker engine and debootstrap"
    log "installing docker.io and debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
  if ! engine_answers; then
    log "starting dockerd"
    # No systemd on the controller is assumed: run the daemon in the background, with every descriptor of this
    # shell above stderr closed first. A daemon that inherits one keeps it open for its whole life: a lock file
    # held by whoever called this script (`flock LOCK make molecule`) would then never be released.
    (
      for fd in /proc/self/fd/*; do
        n=${fd##*/}
        if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
      done
      exec nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null
    ) &
    for _ in $(seq 1 60); do
      engine_answers && break
      sleep 1
    done
    engine_answers || die "dockerd did not answer within 60 s; see /var/log/dockerd.log"
  fi
}

build_image() {
  local suite=$1 tag=$2 dir
  if [ "$(docker image inspect -f '{{ index .Config.Labels "llm_infra.image.include" }}' "${IMAGE_REPO}:${tag}" 2>/dev/null)" \
       = "${INCLUDE_LABEL#*=}" ]; then
    log "image ${IMAGE_REPO}:${tag} present"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "building ${IMAGE_REPO}:${tag} needs root (debootstrap)"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: apt-get install debootstrap"
  dir=$(mktemp -d)
  log "debootstrap ${suite} -> ${IMAGE_REPO}:${tag}"
  debootstrap --variant=minbase --include="${INCLUDE}" "${suite}" "${dir}" >"${dir}.log" 2>&1 \
    || { tail -20 "${dir}.log" >&2; rm -rf "${dir}"; die "debootstrap ${suite} failed"; }
  # No service starts inside the new root while the packages install (policy-rc.d answers 101: not allowed).
  printf '#!/bin/sh\nexit 101\n' >"${dir}/usr/sbin/policy-rc.d"
  chmod 0755 "${dir}/usr/sbin/policy-rc.d"
  mount -t proc proc "${dir}/proc"
  # shellcheck disable=SC2086  # the package names are words
  if ! chroot "${dir}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       ${BASE_PACKAGES} >>"${dir}.log" 2>&1; then
    tail -20 "${dir}.log" >&2
    umount "${dir}/proc" && rm -rf "${dir}"
    die "installing the base packages (${BASE_PACKAGES}) into ${IMAGE_REPO}:${tag} failed"
  fi
  umount "${dir}/proc"
  rm -f "${dir}/usr/sbin/policy-rc.d"
  # Host keys are generated per container at first boot, never baked into the image.
  rm -f "${dir}"/etc/ssh/ssh_host_*
  cat >"${dir}/etc/systemd/system/ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/ssh-hostkeys.service "${dir}/etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service"
  # The package lists stay: with python3-apt present, apt's cache_valid_time trusts the age of the lists folder,
  # and an emptied folder would look fresh. Only the downloaded packages go.
  rm -rf "${dir}"/var/cache/apt/archives/*.deb
  tar -C "${dir}" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' -c "LABEL ${INCLUDE_LABEL}" - "${IMAGE_REPO}:${tag}" >/dev/null
  rm -rf "${dir}" "${dir}.log"
}

ensure_engine
pids=()
for pair in ${RELEASES}; do
  build_image "${pair%%:*}" "${pair##*:}" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ "$rc" -eq 0 ] || die "image build failed"
log "engine ready: $(docker info --format '{{.ServerVersion}}'), images: $(docker images --format '{{.Repository}}:{{.Tag}}' "${IMAGE_REPO}" | tr '\n' ' ')"
