#!/usr/bin/env bash
# Container health probe: succeeds when GET /health/ready on the local management port (else the API port) answers 200.
# The aspnet image has no curl or wget, and starting a second .NET process every few seconds
# only to ask one URL costs more than the check is worth; bash's /dev/tcp needs nothing else.
# Usage: easyim-health [port] [path]   (port: $EasyIm__ManagementPort, else $Gateway__ApiPort, else 8889; path: /health/ready)
set -u
port=${1:-${EasyIm__ManagementPort:-${Gateway__ApiPort:-8889}}}
path=${2:-/health/ready}
if ! { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
  echo "unhealthy: nothing listens on 127.0.0.1:$port" >&2
  exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
status=""
IFS= read -r -t 5 status <&3
exec 3<&-
case "$status" in
  "HTTP/"*" 200 "*) exit 0 ;;
esac
echo "unhealthy: GET $path on port $port answered '${status%$'\r'}'" >&2
exit 1
