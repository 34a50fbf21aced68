#!/bin/sh
# Install the Debian packages the build and the tests need, when they are
# missing and we are root. Not root and something missing: say what.
# luajit2/libluajit2-5.1-dev is Debian's OpenResty branch of LuaJIT: the one
# libnginx-mod-http-lua links against (plain "luajit" conflicts with it).
PKGS="lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev libcurl4-openssl-dev libexpat1-dev
lua-cjson lua-busted lua-socket lua-expat lua-posix lua-check luarocks php-cli python3
nginx libnginx-mod-http-lua pkg-config valgrind make gcc openssl time locales
libhiredis-dev redis-server php-soap python3-zeep python3-suds"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || apt-get update
  log=$(mktemp -t egoi-deps.XXXXXXXX) || exit 1
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1 || {
    cat "$log"; rm -f "$log"; echo "deps: apt-get install failed"; exit 1; }
  rm -f "$log"
  # Debian starts nginx on install; the tests run their own instances.
  (systemctl stop nginx || service nginx stop || nginx -s stop) >/dev/null 2>&1 || true
  # ... and redis-server: the specs start private ones on free ports, never the service.
  case "$missing" in *redis-server*)
    (systemctl stop redis-server || service redis-server stop) >/dev/null 2>&1 || true ;;
  esac
else
  echo "deps: missing Debian packages:$missing (run 'make deps' as root)"
  exit 1
fi
