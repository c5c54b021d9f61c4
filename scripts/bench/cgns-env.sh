#!/bin/bash
# cgns-env.sh CHILD COMMAND...   (part of `npm run bench`)
#
# Runs COMMAND in a private mount+cgroup namespace whose /sys/fs/cgroup is a pure
# cgroup-v1 layout, rooted at a fresh child cgroup CHILD of the caller's own
# cgroup in every v1 hierarchy. crun 1.8.1 refuses hybrid hosts ("cgroups in
# hybrid mode not supported"), so on such hosts every tool of the benchmark runs
# in here, side by side. The host's mounts are untouched; the only cgroups made
# are CHILD and what the runtimes create below it (cgns-env.sh --cleanup CHILD
# removes them).
set -e
if [ "$1" = --cleanup ]; then
  CHILD=$2
  while IFS=: read -r _ ctl path; do
    case "$ctl" in "") continue ;; name=systemd) m=/sys/fs/cgroup/systemd ;; *) m=/sys/fs/cgroup/$ctl ;; esac
    d="$m${path%/}/$CHILD"
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ -d "$d" ] && echo "cgns-env: could not remove $d" >&2
  done <<< "$(cat /proc/self/cgroup)"
  exit 0
fi
CHILD=$1
shift
if [ "${DYNOD_BENCH_IN_CGNS:-}" != 1 ]; then
  while IFS=: read -r _ ctl path; do
    case "$ctl" in
      "") continue ;;                          # the cgroup2 (unified) line: left alone
      name=systemd) m=/sys/fs/cgroup/systemd ;;
      *) m=/sys/fs/cgroup/$ctl ;;
    esac
    [ -d "$m" ] || continue
    d="$m${path%/}/$CHILD"
    mkdir -p "$d"
    if [ "$ctl" = cpuset ]; then
      cat "$m${path%/}/cpuset.cpus" > "$d/cpuset.cpus"
      cat "$m${path%/}/cpuset.mems" > "$d/cpuset.mems"
    fi
    echo $$ > "$d/cgroup.procs"
  done <<< "$(cat /proc/self/cgroup)"   # read once: /proc/self/cgroup changes as we move
  export DYNOD_BENCH_IN_CGNS=1
  exec unshare --mount --cgroup --propagation private "$0" "$CHILD" "$@"
fi
mount -t tmpfs -o mode=755,nosuid,nodev,noexec tmpfs /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
  grep -qw "$c" /proc/self/cgroup || continue
  mkdir -p /sys/fs/cgroup/$c
  mount -t cgroup -o $c,nosuid,nodev,noexec cgroup /sys/fs/cgroup/$c
done
if grep -q name=systemd /proc/self/cgroup; then
  mkdir -p /sys/fs/cgroup/systemd
  mount -t cgroup -o none,name=systemd,nosuid,nodev,noexec cgroup /sys/fs/cgroup/systemd
fi
unset DYNOD_BENCH_IN_CGNS
exec "$@"
