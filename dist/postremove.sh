#!/bin/sh
# wasmcollector postremove (deb postrm, rpm %postun). On purge (deb only; rpm keeps data), the
# bookkeeping, dry-run and failed tarballs, serve's records and the compilation cache go. The wasmcollector user
# stays, as Debian policy asks: files elsewhere may still be owned by it.
set -e

if [ "$1" = purge ]; then
	rm -rf /var/lib/wasmcollector/state /var/lib/wasmcollector/out /var/lib/wasmcollector/records /var/cache/wasmcollector
	rmdir /var/lib/wasmcollector/modules /var/lib/wasmcollector 2>/dev/null || true
	rmdir /etc/wasmcollector 2>/dev/null || true
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
