#!/bin/sh
# Without --privileged, Docker mounts the cgroup v1 hierarchies read-only. kind's entrypoint and systemd need
# them writable: mount a tmpfs on /sys/fs/cgroup and each hierarchy again, read-write, with the same name and
# options (rooted at this container's cgroup namespace), then hand over to kind's entrypoint. On cgroup v2, or
# when the hierarchies are already writable (privileged), this does nothing but exec.
set -eu
if [ ! -f /sys/fs/cgroup/cgroup.controllers ] && ! touch /sys/fs/cgroup/cpu/.sd-probe 2>/dev/null; then
  mounts="$(findmnt -rn -t cgroup -o TARGET,OPTIONS)"
  links="$(find /sys/fs/cgroup -maxdepth 1 -type l -printf '%f %l\n' 2>/dev/null || true)"
  umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup
  mount -t tmpfs -o rw,nosuid,nodev,noexec,mode=755 cgroup /sys/fs/cgroup
  echo "$mounts" | while read -r target opts; do
    [ -n "$target" ] || continue
    mkdir -p "$target"
    o="$(echo "$opts" | tr , '\n' | grep -v -e '^ro$' -e '^rw$' | paste -sd, -)"
    mount -t cgroup -o "rw,$o" cgroup "$target"
  done
  echo "$links" | while read -r name to; do
    if [ -n "$name" ] && [ ! -e "/sys/fs/cgroup/$name" ]; then ln -s "$to" "/sys/fs/cgroup/$name"; fi
  done
else
  rm -f /sys/fs/cgroup/cpu/.sd-probe
fi
# kubelet opens /dev/kmsg; without the host device, an empty stand-in.
[ -e /dev/kmsg ] || ln -s /dev/null /dev/kmsg
exec /usr/local/bin/entrypoint "$@"
