#!/bin/busybox sh
# PID 1 of the vhostcheck guest. Loads the modules listed in /etc/vhostcheck/modules
# (dependency order, written by the image builder), passing each the parameters the
# kernel command line gives it as MODULE.PARAM=VALUE (busybox insmod, unlike modprobe,
# does not read /proc/cmdline), then runs the agent. When the agent ends, the guest
# powers off so the host sees it go, with a line that tells an agent exit from a panic.
#
# Hostrun mode (`vhostcheck.hostrun=net|blk` on the command line, hostRun.ts): no
# agent. The 9p modules in /etc/vhostcheck/hostrun-modules are loaded too, the host's
# root is mounted read-only from the 9p tag `hostroot` at /host and the host's work dir
# (`vhostcheck.hostrun_work=PATH`) writable from the tag `work` at its own path inside
# it, so every host path means the same file inside (a checkout under /tmp included);
# one vdpa_sim device of the asked type is added, and PATH/run.sh runs as root chrooted
# into /host with TMPDIR and HOME at PATH, its output in PATH/run.log (a host file: never
# on the console, where the host reads crashes and this script's own lines). It runs at most `vhostcheck.hostrun_timeout=SECONDS`, so a guest whose
# host died still powers off. The last line says how it went.
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
hostrun=""
hostrun_timeout=""
work=""
for word in $(cat /proc/cmdline); do
  case "$word" in
    vhostcheck.hostrun=*) hostrun="${word#vhostcheck.hostrun=}" ;;
    vhostcheck.hostrun_timeout=*) hostrun_timeout="${word#vhostcheck.hostrun_timeout=}" ;;
    vhostcheck.hostrun_work=*) work="${word#vhostcheck.hostrun_work=}" ;;
  esac
done
# Loads the modules listed in file $1, in its order.
load_modules() {
  for m in $(cat "$1"); do
    args=""
    for word in $(cat /proc/cmdline); do
      case "$word" in
        "$m".*=*) args="$args ${word#"$m".}" ;;
      esac
    done
    # shellcheck disable=SC2086
    insmod "/lib/modules/$m.ko" $args || echo "vhostcheck-init: insmod $m failed"
  done
}
load_modules /etc/vhostcheck/modules

# Ends a hostrun that could not start its script, with the line hostRun.ts reports.
hostrun_failed() {
  echo "vhostcheck-init: hostrun could not start: $1"
  poweroff -f
}

if [ -n "$hostrun" ]; then
  case "$hostrun" in
    net) mgmt="vdpasim_net mac 52:54:00:76:68:63" ;;
    blk) mgmt="vdpasim_blk" ;;
    *) hostrun_failed "unknown device type '$hostrun' (net or blk)" ;;
  esac
  case "$hostrun_timeout" in
    ''|*[!0-9]*) hostrun_failed "vhostcheck.hostrun_timeout=SECONDS missing or not a number" ;;
  esac
  case "$work" in
    /?*) ;;
    *) hostrun_failed "vhostcheck.hostrun_work=PATH missing or not absolute" ;;
  esac
  load_modules /etc/vhostcheck/hostrun-modules
  # msize: 9p's default (8 KiB) makes node's module loading several times slower.
  # cache=loose on the read-only root: node and tsx read thousands of files, and a
  # cached lookup or page saves a round trip through TCG (tsx --help: 17 s -> 12 s);
  # the guest lives for one run, so a host file changed meanwhile is the only risk.
  # The work dir is uncached: the host follows run.log while the script writes it.
  p9="trans=virtio,version=9p2000.L,msize=512000"
  mkdir /host
  mount -t 9p -o "$p9,ro,cache=loose" hostroot /host || hostrun_failed "mount of 9p tag hostroot"
  mount -t 9p -o "$p9" work "/host$work" || hostrun_failed "mount of 9p tag work at /host$work"
  mount -t devtmpfs dev /host/dev || hostrun_failed "devtmpfs at /host/dev"
  mount -t proc proc /host/proc || hostrun_failed "proc at /host/proc"
  mount -t sysfs sys /host/sys || hostrun_failed "sysfs at /host/sys"
  # shellcheck disable=SC2086
  vdpa dev add name vhostcheck-host mgmtdev $mgmt || hostrun_failed "vdpa dev add ($hostrun)"
  echo "vhostcheck-init: hostrun starting"
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$work" TMPDIR="$work" LANG=C.UTF-8 \
    timeout -s KILL "$hostrun_timeout" chroot /host /bin/sh "$work/run.sh" >"/host$work/run.log" 2>&1 </dev/null
  status=$?
  sync
  echo "vhostcheck-init: hostrun exited with status $status"
  poweroff -f
fi

/bin/vhostcheck-agent
echo "vhostcheck-init: agent exited with status $?"
poweroff -f
