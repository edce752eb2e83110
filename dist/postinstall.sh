#!/bin/sh
# wasmcollector postinstall (deb postinst "configure", rpm %post): the system user, the state and
# cache directories, and systemd told about the units. Nothing is enabled or started: the timer
# ships once [shipping] url is set (see /etc/wasmcollector/collectors.toml).
set -e

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;;
esac

if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/wasmcollector.conf
elif ! getent passwd wasmcollector >/dev/null; then
	useradd --system --user-group --home-dir /var/lib/wasmcollector --no-create-home \
		--shell /usr/sbin/nologin --comment "wasmcollector analytics collector" wasmcollector
fi

if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/wasmcollector.conf
else
	install -d -m 0755 -o root -g root /var/lib/wasmcollector /var/lib/wasmcollector/modules
	install -d -m 0750 -o wasmcollector -g wasmcollector \
		/var/lib/wasmcollector/state /var/lib/wasmcollector/out /var/cache/wasmcollector
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
