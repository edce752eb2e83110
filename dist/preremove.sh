#!/bin/sh
# wasmcollector preremove (deb prerm, rpm %preun): on removal (not upgrade), stop and disable
# the units so that no gather runs while the binary goes away.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl disable --now wasmcollector-gather.timer wasmcollector.service >/dev/null 2>&1 || true
	systemctl stop wasmcollector-gather.service >/dev/null 2>&1 || true
fi
exit 0
