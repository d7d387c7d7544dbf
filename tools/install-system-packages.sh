#!/bin/sh
# Installs the Debian packages the tests use when they are missing: BIND9 for dns-01 (RFC 2136),
# nginx and apache2 for the web-server installers, chromium for the status page. Only as root;
# otherwise their tests skip.
# The servers' packages would start them on ports 80/443 (the tests start their own, on free
# loopback ports), so service starts are refused while installing, through a policy-rc.d that
# exists only for that time and only when the machine has none of its own.
set -u
missing=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have named || missing="$missing bind9 bind9-utils"
have nginx || missing="$missing nginx"
have apache2 || missing="$missing apache2"
have chromium || missing="$missing chromium"  # renders the status page (test_status_report.py)
# python-augeas (certbot-apache 5.8.0, the apache interop test) builds against libaugeas
[ -e /usr/include/augeas.h ] || missing="$missing libaugeas-dev libaugeas0 augeas-lenses"
[ -n "$missing" ] || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "note: not installed:$missing (needs root); their tests will be skipped"
  exit 0
fi
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && ours=1
fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
rc=$?
[ -z "$ours" ] || rm -f "$policy"
[ "$rc" = 0 ] || echo "note: not installed:$missing (apt-get failed); their tests will be skipped"
exit 0
