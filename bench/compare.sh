#!/usr/bin/env bash
# compare.sh measures the handler against its peers on loopback and prints
# each comparison as a ratio: median [min–max] over interleaved rounds (each
# round runs every variant once, in a rotated order; ratios are per round).
#
#   bench/compare.sh                      # from the repository's root
#   N=7 SIZE_MB=1024 WRK_SECS=5 bench/compare.sh
#
# Servers, all on 127.0.0.1: the example server (fsstore with fsync,
# tokenauth, its access log and limits) on JA_PORT; the same handler on a
# store opened WithoutFsync (bench/cmd/benchserve ja -nofsync) on
# JA_NOFSYNC_PORT; nginx (sendfile on, 2 workers, DAV PUT) on NGINX_PORT; a
# bare Go net/http server (ServeContent of the file; multipart to disk
# through a 1 MiB buffer) on BARE_PORT. Needs go, curl, wrk, nginx and
# strace (apt-get install -y nginx-light wrk strace curl). Everything it
# writes is under WORK (default /tmp/ja-bench, about 3×SIZE_MB).
set -euo pipefail

N=${N:-5}
SIZE_MB=${SIZE_MB:-1024}
WRK_SECS=${WRK_SECS:-5}
WORK=${WORK:-/tmp/ja-bench}
JA_PORT=${JA_PORT:-28082}
JA_NOFSYNC_PORT=${JA_NOFSYNC_PORT:-28083}
NGINX_PORT=${NGINX_PORT:-28080}
BARE_PORT=${BARE_PORT:-28081}
TOKEN=bench-token
JOB_TOKEN=bench-job-token

root=$(cd "$(dirname "$0")/.." && pwd)
for tool in go curl wrk nginx strace; do
	command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing" >&2; exit 1; }
done

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$WORK/store" "$WORK/nginx" "$WORK/results"
mkdir -p "$WORK/bin" "$WORK/results" "$WORK/nginx/dav" "$WORK/nginx/tmp" "$WORK/nginx/logs"

echo "# building" >&2
# examples/server may be a nested module of its own.
if [ -f "$root/examples/server/go.mod" ]; then
	go -C "$root/examples/server" build -o "$WORK/bin/server" .
else
	(cd "$root" && go build -o "$WORK/bin/server" ./examples/server)
fi
(cd "$root" && go build -o "$WORK/bin/benchserve" ./bench/cmd/benchserve)
bs=$WORK/bin/benchserve

if [ ! -f "$WORK/files/big.zip" ] || [ "$(cat "$WORK/files/size" 2>/dev/null)" != "$SIZE_MB" ]; then
	echo "# making data ($SIZE_MB MiB)" >&2
	"$bs" mkdata -dir "$WORK/files" -size-mb "$SIZE_MB"
	echo "$SIZE_MB" >"$WORK/files/size"
fi
F=$WORK/files

echo "# seeding the store" >&2
imp() { "$WORK/bin/server" import -data "$WORK/store" -project bench/app -project-id 1 -visibility private -pipeline "$1" -job-id "$2" -status "$3" "$4" >/dev/null; }
imp 1 1 success "$F/big.zip"
imp 1 2 success "$F/tiny.zip"
imp 1 3 success "$F/small10.zip"
imp 2 1000 running "$F/big.zip" # uploads of the same bytes: stored, hashed, validated, found identical, deleted
cat >"$WORK/auth.json" <<EOF
{"users": [{"name": "bench", "tokens": ["$TOKEN"], "roles": {"1": "maintainer"}}], "job_tokens": {"$JOB_TOKEN": 1000}}
EOF

cat >"$WORK/nginx/nginx.conf" <<EOF
user root;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 1024; }
http {
	sendfile on;
	access_log off;
	client_body_temp_path $WORK/nginx/tmp;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		root $F;
		location /dav/ {
			root $WORK/nginx;
			dav_methods PUT DELETE;
			client_max_body_size 0;
		}
	}
}
EOF

echo "# starting servers" >&2
"$WORK/bin/server" -addr "127.0.0.1:$JA_PORT" -data "$WORK/store" -auth "$WORK/auth.json" -max-upload-size 0 -sweep-interval 0 2>"$WORK/server.log" &
ja_pid=$!
pids+=("$ja_pid")
"$bs" ja -addr "127.0.0.1:$JA_NOFSYNC_PORT" -data "$WORK/store" -auth "$WORK/auth.json" -nofsync 2>"$WORK/ja-nofsync.log" &
janf_pid=$!
pids+=("$janf_pid")
"$bs" bare -addr "127.0.0.1:$BARE_PORT" -dir "$F" &
bare_pid=$!
pids+=("$bare_pid")
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -g 'daemon off;' &
pids+=("$!")
for port in $JA_PORT $JA_NOFSYNC_PORT $BARE_PORT $NGINX_PORT; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

JA=http://127.0.0.1:$JA_PORT
JANF=http://127.0.0.1:$JA_NOFSYNC_PORT
BARE=http://127.0.0.1:$BARE_PORT
NGINX=http://127.0.0.1:$NGINX_PORT

# cpu_ms PID: user+system CPU of a process so far, in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }

# check CODE WANT WHAT: fail loudly on an unexpected status.
check() { [ "$1" = "$2" ] || { echo "compare.sh: $3: status $1, want $2" >&2; exit 1; }; }

# upload VARIANT ROUND: one 1-file upload, time in seconds (and server CPU).
upload() {
	local out code t before after pid
	case $1 in
	nginx)
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -T "$F/big.zip" "$NGINX/dav/up.zip")
		curl -s -o /dev/null -X DELETE "$NGINX/dav/up.zip"
		read -r code t <<<"$out"; check "$code" 201 "nginx PUT"
		echo "$2 up-nginx $t" >>"$WORK/results/upload" ;;
	ja | janf | bare)
		local url=$JA/api/v4/jobs/1000/artifacts
		pid=$ja_pid
		[ "$1" = janf ] && { url=$JANF/api/v4/jobs/1000/artifacts; pid=$janf_pid; }
		[ "$1" = bare ] && { url=$BARE/upload; pid=$bare_pid; }
		before=$(cpu_ms "$pid")
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H 'Transfer-Encoding: chunked' \
			-H "JOB-TOKEN: $JOB_TOKEN" -F "file=@$F/big.zip" "$url")
		after=$(cpu_ms "$pid")
		read -r code t <<<"$out"; check "$code" 201 "upload to $1"
		echo "$2 up-$1 $t" >>"$WORK/results/upload"
		echo "$2 cpu-$1 $((after - before))" >>"$WORK/results/upload" ;;
	esac
}

# download VARIANT ROUND: the whole big archive with the Go client.
download() {
	local t
	case $1 in
	ja) t=$("$bs" get "$JA/api/v4/projects/1/jobs/1/artifacts" "PRIVATE-TOKEN: $TOKEN") ;;
	nginx) t=$("$bs" get "$NGINX/big.zip") ;;
	bare) t=$("$bs" get "$BARE/files/big.zip") ;;
	esac
	echo "$2 dl-$1 ${t%% *}" >>"$WORK/results/download"
}

# small VARIANT ROUND: wrk -t1 -c16, requests per second.
small() {
	local url hdr=() rps
	case $1 in
	ja-tiny) url=$JA/api/v4/projects/1/jobs/2/artifacts; hdr=(-H "PRIVATE-TOKEN: $TOKEN") ;;
	bare-tiny) url=$BARE/files/tiny.zip ;;
	ja-entry) url=$JA/api/v4/projects/1/jobs/3/artifacts/dist/4k.bin; hdr=(-H "PRIVATE-TOKEN: $TOKEN") ;;
	bare-entry) url=$BARE/files/4k.bin ;;
	esac
	rps=$(wrk -t1 -c16 -d"${WRK_SECS}s" "${hdr[@]}" "$url" | awk '/Requests\/sec/ { print $2 }')
	echo "$2 $1 $rps" >>"$WORK/results/small"
}

# rotate ROUND WORDS...: the words, rotated by ROUND.
rotate() {
	local r=$1; shift
	local a=("$@") n=$#
	for ((i = 0; i < n; i++)); do echo "${a[$(((i + r) % n))]}"; done
}

echo "# load before: $(uptime)"
# One warm-up of each, not counted.
upload ja 0; upload janf 0; upload bare 0; upload nginx 0; download ja 0; download nginx 0; download bare 0
rm -f "$WORK/results/"*
for r in $(seq "$N"); do
	echo "# round $r/$N" >&2
	for v in $(rotate "$r" nginx ja janf bare); do upload "$v" "$r"; done
	for v in $(rotate "$r" ja nginx bare); do download "$v" "$r"; done
	for v in $(rotate "$r" ja-tiny bare-tiny ja-entry bare-entry); do small "$v" "$r"; done
done
echo "# load after: $(uptime)"

# sendfile: system calls of one whole download, per server.
syscalls() {
	local pid=$1 url=$2 hdr=$3 out=$WORK/strace-$4.txt
	strace -f -c -e trace=sendfile,pread64,read,write,writev -o "$out" -p "$pid" 2>/dev/null &
	local spid=$!
	sleep 1
	"$bs" get "$url" "$hdr" >/dev/null
	sleep 0.2
	kill -INT "$spid"; wait "$spid" 2>/dev/null || true
	awk '$NF ~ /^(sendfile|pread64|read|write|writev)$/ { printf "%s%s %s", sep, $NF, $4; sep = ", " } END { print "" }' "$out" |
		sed "s/^/$4 (${SIZE_MB} MiB): /"
}

ratio() { "$bs" ratio "$WORK/results/$1" "$2" "$3"; }
cat <<EOF

## Results: N=$N rounds, ${SIZE_MB} MiB archive, wrk -t1 -c16 -d${WRK_SECS}s; median [min–max] of per-round ratios

upload, chunked multipart, time vs nginx DAV PUT (lower is better)
  handler (example server, fsync)      $(ratio upload up-ja up-nginx)
  handler, fsstore WithoutFsync        $(ratio upload up-janf up-nginx)
  bare Go multipart to disk            $(ratio upload up-bare up-nginx)
upload, server CPU vs bare Go (lower is better)
  handler (fsync)                      $(ratio upload cpu-ja cpu-bare)
  handler, WithoutFsync                $(ratio upload cpu-janf cpu-bare)
whole archive, Go client, throughput (higher is better)
  handler vs nginx                     $(ratio download dl-nginx dl-ja)
  handler vs bare ServeContent         $(ratio download dl-bare dl-ja)
small requests, req/s (higher is better)
  tiny whole archive vs bare Go        $(ratio small ja-tiny bare-tiny)
  4 KiB entry of a 10-entry zip vs bare Go 4 KiB   $(ratio small ja-entry bare-entry)
EOF
echo
echo "system calls of one whole-archive download (strace -f -c):"
syscalls "$ja_pid" "$JA/api/v4/projects/1/jobs/1/artifacts" "PRIVATE-TOKEN: $TOKEN" "example server"
syscalls "$janf_pid" "$JANF/api/v4/projects/1/jobs/1/artifacts" "PRIVATE-TOKEN: $TOKEN" "handler+AccessLog"
syscalls "$bare_pid" "$BARE/files/big.zip" "X-None: 1" "bare Go"
echo
echo "raw values: $WORK/results/{upload,download,small} (round variant value: seconds, CPU ms, req/s)"
