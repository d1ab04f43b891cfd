#!/bin/sh
# docker/healthcheck.sh - HEALTHCHECK of the hotline runtime image (installed as
# /usr/local/bin/hotline-healthcheck): GET /healthz on the service's plain HTTP ops port,
# taken from HOTLINE_OPS_LISTEN (default :9090). A wildcard or empty host is asked on
# 127.0.0.1. Exits 0 when the service answers 200, 1 otherwise.
set -eu
addr=${HOTLINE_OPS_LISTEN:-:9090}
host=${addr%:*}
port=${addr##*:}
case $host in
'' | 0.0.0.0 | '[::]' | '*') host=127.0.0.1 ;;
esac
curl -fsS --max-time 2 -o /dev/null "http://$host:$port/healthz" || exit 1
