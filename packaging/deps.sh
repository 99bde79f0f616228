#!/bin/sh
# Installs the Debian packages hoptrace needs to build and to run its tests.
# Called by `make deps` (and so by `make run` and `make check`) when something is
# missing. Idempotent: installs only what is absent. Needs root.
set -eu

BUILD="gcc make pkg-config clang libclang-rt-14-dev libbpf-dev bpftool \
libnetfilter-queue-dev libmnl-dev libnng-dev libmsgpack-dev \
libcurl4-openssl-dev libcjson-dev libmbedtls-dev libssl-dev"
TEST="iproute2 iptables openssh-server openssh-client tmux screen socat \
netcat-openbsd curl python3 git tar procps psmisc util-linux iputils-ping \
libpython3.11-testsuite python3-psutil liburing-dev busybox-static golang-go"
# `make deb` (debhelper, lintian), the man-page lint, the unit verifier
# (systemd-analyze; PID 1 need not be systemd), logrotate -d of the shipped
# config, and the Prometheus text-format parser of the metrics test.
PKG="debhelper lintian dpkg-dev fakeroot mandoc systemd logrotate python3-prometheus-client"

missing=""
for p in $BUILD $TEST $PKG; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing — run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Never start services (sshd) in the root namespace while installing: tests start
# their own inside network namespaces.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	made_policy=1
fi
trap '[ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
# An old or empty package list finds nothing: refresh it once if an install fails.
apt-get install -y -q --no-install-recommends $missing ||
	{ apt-get update -q && apt-get install -y -q --no-install-recommends $missing; }
