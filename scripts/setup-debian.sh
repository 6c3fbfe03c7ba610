#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for onair's test suite: installs the system packages the
# tests use (ffmpeg, Chromium, nginx with its RTMP and stream modules, HAProxy, PostgreSQL, Redis,
# GStreamer, pocketsphinx, espeak-ng …), starts PostgreSQL and a Redis for the tests, and writes
# .onair-test.env, which `npm test` reads. Idempotent; run as root or with sudo rights.
#   bash scripts/setup-debian.sh && npm ci && npm test      (the README's test line)
#   bash scripts/setup-debian.sh --stop                      (stops the tests' Redis)
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=''
[ "$(id -u)" = 0 ] || SUDO=sudo

if [ "${1:-}" = --stop ]; then
  pid=$(cat /tmp/onair-test-redis/redis.pid 2>/dev/null || true)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && echo "setup-debian: stopped the tests' Redis (pid $pid)"
  exit 0
fi

need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v chromium >/dev/null || need+=(chromium)
command -v redis-server >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || need+=(nginx)
# Fonts so the e2e screenshots (test-artifacts/screenshots) show Hangul and emoji.
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need+=(fonts-noto-color-emoji)
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || need+=(libnginx-mod-rtmp)
# Load balancers in front of two nodes (test/integration/load-balancers.test.ts, the cluster drill).
command -v haproxy >/dev/null || need+=(haproxy)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# Real speech recognition in the captions tests: pocketsphinx (English model) hears espeak-ng speech.
command -v pocketsphinx_continuous >/dev/null || need+=(pocketsphinx)
[ -f /usr/share/pocketsphinx/model/en-us/en-us.lm.bin ] || need+=(pocketsphinx-en-us)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
# GStreamer, for the LL-HLS player test (playbin3: hlsdemux2 in -good, h264parse in -bad, decoders in -libav)
command -v gst-launch-1.0 >/dev/null || need+=(gstreamer1.0-tools)
ls /usr/lib/*/gstreamer-1.0/libgstadaptivedemux2.so >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-good)
ls /usr/lib/*/gstreamer-1.0/libgstvideoparsersbad.so >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-bad)
ls /usr/lib/*/gstreamer-1.0/libgstlibav.so >/dev/null 2>&1 || need+=(gstreamer1.0-libav)
# Interop publishers (test/integration/interop-ingest.test.ts): x264enc (ugly), rtspclientsink (rtsp).
ls /usr/lib/*/gstreamer-1.0/libgstx264.so >/dev/null 2>&1 || need+=(gstreamer1.0-plugins-ugly)
ls /usr/lib/*/gstreamer-1.0/libgstrtspclientsink.so >/dev/null 2>&1 || need+=(gstreamer1.0-rtsp)
# A self-signed CA and certificate for the RTMPS tests; a C compiler for the C chat load generator's smoke run.
command -v openssl >/dev/null || need+=(openssl)
command -v cc >/dev/null || need+=(gcc libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-debian: installing ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian's nginx package starts a default server on :80 at install; tests run their own nginx.
$SUDO systemctl stop nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true
# Debian's haproxy package starts its service too; tests run their own.
$SUDO systemctl stop haproxy >/dev/null 2>&1 || $SUDO service haproxy stop >/dev/null 2>&1 || true

# PostgreSQL: start the distribution's cluster (create one if the install did not).
pgver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q .; then $SUDO pg_createcluster "$pgver" main >/dev/null; fi
cluster=$(pg_lsclusters -h | head -1 | awk '{print $1" "$2}')
$SUDO pg_ctlcluster $cluster start 2>/dev/null || true
for i in $(seq 1 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
pgport=$(pg_lsclusters -h | head -1 | awk '{print $3}')
$SUDO su postgres -c "psql -p $pgport -tAc \"SELECT 1 FROM pg_roles WHERE rolname='onair'\"" | grep -q 1 ||
  $SUDO su postgres -c "psql -p $pgport -c \"CREATE ROLE onair LOGIN SUPERUSER PASSWORD 'onair'\"" >/dev/null
$SUDO su postgres -c "psql -p $pgport -tAc \"SELECT 1 FROM pg_database WHERE datname='onair_test'\"" | grep -q 1 ||
  $SUDO su postgres -c "createdb -p $pgport -O onair onair_test"

# Redis: our own instance on port 6390, left running for later test runs (--stop ends it).
redis_dir=/tmp/onair-test-redis
mkdir -p "$redis_dir"
if ! redis-cli -p 6390 ping >/dev/null 2>&1; then
  redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" --daemonize yes --pidfile "$redis_dir/redis.pid" >/dev/null
fi
for i in $(seq 1 30); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.5; done
redis-cli -p 6390 ping >/dev/null

# The test runner (scripts/test.mjs) reads these when the variables are not set.
cat > .onair-test.env <<ENV
ONAIR_TEST_POSTGRES_URL=postgres://onair:onair@127.0.0.1:$pgport/onair_test
ONAIR_TEST_REDIS_URL=redis://127.0.0.1:6390
ENV
echo "setup-debian: ready (PostgreSQL on $pgport, Redis on 6390; .onair-test.env written)"
