#!/bin/busybox sh
# PID 1 of the vhostcheck guest. Loads the modules listed in /etc/vhostcheck/modules
# (dependency order, written by the image builder), passing each the parameters the
# kernel command line gives it as MODULE.PARAM=VALUE (busybox insmod, unlike modprobe,
# does not read /proc/cmdline), then runs the agent. When the agent ends, the guest
# powers off so the host sees it go, with a line that tells an agent exit from a panic.
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
for m in $(cat /etc/vhostcheck/modules); do
  args=""
  for word in $(cat /proc/cmdline); do
    case "$word" in
      "$m".*=*) args="$args ${word#"$m".}" ;;
    esac
  done
  # shellcheck disable=SC2086
  insmod "/lib/modules/$m.ko" $args || echo "vhostcheck-init: insmod $m failed"
done
/bin/vhostcheck-agent
echo "vhostcheck-init: agent exited with status $?"
poweroff -f
