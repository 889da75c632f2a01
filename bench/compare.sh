#!/usr/bin/env bash
# compare.sh measures the handler against its peers on loopback and prints
# each row of issue 12's table as a measured value or a ratio, its goal next
# to it: median [min–max] over interleaved rounds (each round runs every
# variant of a row once, in a rotated order; ratios are per round).
#
#   bench/compare.sh                      # from the repository's root
#   N=7 SIZE_MB=1024 WRK_SECS=5 bench/compare.sh
#   ROWS=small,tree N=1 bench/compare.sh  # some rows only
#
# N rounds for every row, except the noisiest: UPLOAD_N rounds of upload,
# max(N, 5) unless set (a round of upload is about 6 × SIZE_MB through the
# disk), and DOWNLOAD_N of download, max(N, 9) unless set (a round is four
# downloads of about half a second each, whose spread, ±10 %, is as wide as
# the differences between the servers).
#
# Rows (ROWS, comma-separated, default all):
#   upload    runner upload of big.zip, time vs nginx DAV PUT; server CPU vs bare Go;
#             both also vs bare Go that hashes the file part (SHA-256, as we must);
#             the upload is of the same bytes again (compared with the job's
#             archive, found identical, deleted: the same work every round), and
#             for reference a job's first upload (recorded), and the store
#             without fsync written through the page cache (WithoutDirectIO)
#   download  whole big.zip, Go client, throughput vs nginx and bare Go (and
#             the handler alone vs bare Go, bare Go vs nginx, and bare Go
#             copying through user space instead of sendfile, for reference)
#   small     tiny archive and 4 KiB entry req/s vs bare Go (wrk), and vs bare
#             Go sending GitLab's headers too; the same entry as the last of
#             100k entries vs in the 10-entry zip
#   syscalls  strace -c of one whole download (is sendfile used?)
#   lookup    last of 1M entries ×50, median time to first byte
#   tree      first page of tree?recursive=true at 1M entries: time, memory
#   cold      first request of a fresh server for the last of 1M vs unzip -p
#   decode    ENTRY_MB deflate entry over HTTP vs in-process decode
#   mem       memory per in-flight request: deflate, whole archive, zstd; and
#             per in-flight runner upload, with and without -upload-memory
#
# Servers, all on 127.0.0.1: the example server (fsstore with fsync,
# tokenauth, its access log and limits; -max-upload-size 0 -sweep-interval 0)
# on JA_PORT for upload, download, small and syscalls; the handler alone,
# New(fsstore, tokenauth) with nothing in front (the issue's setting: no
# access log, no limits), on a store opened WithoutFsync (bench/cmd/benchserve
# ja -nofsync -access-log=false) on JA_NOFSYNC_PORT, and the same store
# through the page cache as well (-nofsync -nodirect: WithoutDirectIO) on
# JA_CACHE_PORT for upload; the example server with its default flags on JA_IDX_PORT
# and with -index-budget ALT_INDEX_BUDGET on JA_ALT_PORT (lookup, tree,
# decode); fresh example servers on FRESH_PORT, one per measurement (cold,
# mem); nginx (sendfile on, 2 workers, DAV PUT) on NGINX_PORT; a bare Go
# net/http server (ServeContent of the file, by sendfile or through 32 KiB
# copies; multipart to disk through a 1 MiB buffer, without or with SHA-256
# of the file part) on BARE_PORT, and a fresh one on FRESH_BARE_PORT (mem).
# Needs go, curl, wrk, nginx, strace and unzip (apt-get install -y
# nginx-light wrk strace curl unzip), and root for /proc/PID/clear_refs
# (mem, tree). Everything it writes is under WORK (default /tmp/ja-bench):
# the test files are made once and kept (about 2×SIZE_MB + 0.6 GB), the
# store is made again on each run (as much again).
set -euo pipefail

N=${N:-5}
UPLOAD_N=${UPLOAD_N:-$((N > 5 ? N : 5))}
DOWNLOAD_N=${DOWNLOAD_N:-$((N > 9 ? N : 9))}
SIZE_MB=${SIZE_MB:-1024}
WRK_SECS=${WRK_SECS:-5}
ENTRY_MB=${ENTRY_MB:-200}                    # deflate and zstd entries, uncompressed
MEM_N=${MEM_N:-100}                          # requests at once (mem)
TREE_N=${TREE_N:-20}                         # tree requests, in series and at once
TREE_OVER_N=${TREE_OVER_N:-5}                # the same over the index budget (seconds each)
ALT_INDEX_BUDGET=${ALT_INDEX_BUDGET:-67108864} # 64 MiB: too small for the 1M-entry index (walked)
ROWS=${ROWS:-all}
WORK=${WORK:-/tmp/ja-bench}
JA_PORT=${JA_PORT:-28082}
JA_NOFSYNC_PORT=${JA_NOFSYNC_PORT:-28083}
JA_CACHE_PORT=${JA_CACHE_PORT:-28088}
NGINX_PORT=${NGINX_PORT:-28080}
BARE_PORT=${BARE_PORT:-28081}
JA_IDX_PORT=${JA_IDX_PORT:-28084}
JA_ALT_PORT=${JA_ALT_PORT:-28085}
FRESH_PORT=${FRESH_PORT:-28086}
FRESH_BARE_PORT=${FRESH_BARE_PORT:-28087}
TOKEN=bench-token
JOB_TOKEN=bench-job-token
LAST1M=public/coverage/pkg099/dir099/file099.html # the last entry of big1m.zip

all_rows="upload download small syscalls lookup tree cold decode mem"
[ "$ROWS" = all ] && ROWS=${all_rows// /,}
for row in ${ROWS//,/ }; do
	[[ " $all_rows " == *" $row "* ]] || { echo "compare.sh: unknown row $row (rows: $all_rows)" >&2; exit 2; }
done
# want ROW...: is any of the rows asked for?
want() {
	local row
	for row in "$@"; do [[ ",$ROWS," == *",$row,"* ]] && return 0; done
	return 1
}

root=$(cd "$(dirname "$0")/.." && pwd)
for tool in go curl wrk nginx strace unzip; do
	command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing" >&2; exit 1; }
done
started=$SECONDS

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
F=$WORK/files

# mkgroup GROUP STAMP [FLAGS]: make a group of test files (benchserve
# mkdata) unless the last one made was made with the same STAMP.
mkgroup() {
	local group=$1 stamp=$2
	shift 2
	[ "$(cat "$F/.made-$group" 2>/dev/null)" = "$stamp" ] && return
	echo "# making data: $group ($stamp)" >&2
	rm -f "$F/.made-$group"
	"$bs" mkdata -dir "$F" -group "$group" "$@"
	echo "$stamp" >"$F/.made-$group"
}
mkdir -p "$F"
want upload download syscalls mem && mkgroup big "$SIZE_MB MiB" -size-mb "$SIZE_MB"
want small && mkgroup small v1
want lookup tree cold && mkgroup big1m v1
want decode mem && mkgroup deflate "$ENTRY_MB MiB" -entry-mb "$ENTRY_MB"
want mem && mkgroup zstd "$ENTRY_MB MiB" -entry-mb "$ENTRY_MB"

echo "# seeding the store" >&2
imp() { "$WORK/bin/server" import -data "$WORK/store" -project bench/app -project-id 1 -visibility private -pipeline "$1" -job-id "$2" -status "$3" "$4" >/dev/null; }
# Every run imports its job (1 to 7) on pipeline 1; job 1000 is running.
want upload download syscalls mem && imp 1 1 success "$F/big.zip"
# The store's file of job 1's archive (download evicts it from the cache).
big_blob=$(find "$WORK/store/blobs/projects/1/jobs/1" -type f -name 'archive-*' 2>/dev/null | head -n 1)
want download && [ -z "$big_blob" ] && { echo "compare.sh: no archive file of job 1 under $WORK/store/blobs" >&2; exit 1; }
want small && { imp 1 2 success "$F/tiny.zip"; imp 1 3 success "$F/small10.zip"; imp 1 4 success "$F/many100k.zip"; }
want lookup tree cold && imp 1 5 success "$F/big1m.zip"
want decode mem && imp 1 6 success "$F/deflate.zip"
want mem && imp 1 7 success "$F/zstd.zip"
want upload mem && imp 2 1000 running "$F/big.zip" # uploads of the same bytes: stored, hashed, validated, found identical, deleted
# A job's first upload (ja-first, janf-first): a running job without an
# archive for each round and server, 2000+round and 3000+round, token
# first-<job>. The upload records the archive: nothing is compared or deleted.
first_tokens=""
if want upload; then
	for r in $(seq 0 "$UPLOAD_N"); do
		for job in $((2000 + r)) $((3000 + r)); do
			"$WORK/bin/server" import -data "$WORK/store" -project bench/app -project-id 1 -pipeline 3 -job-id "$job" -status running -no-archive >/dev/null
			first_tokens+=", \"first-$job\": $job"
		done
	done
fi
cat >"$WORK/auth.json" <<EOF
{"users": [{"name": "bench", "tokens": ["$TOKEN"], "roles": {"1": "maintainer"}}], "job_tokens": {"$JOB_TOKEN": 1000$first_tokens}}
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

# wait_up PORT: until something answers HTTP there.
wait_up() {
	for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.05; done
	echo "compare.sh: nothing answers on port $1" >&2
	exit 1
}

# start_server LOG PORT [FLAGS]: an example server on the store; its pid in
# $started_pid.
start_server() {
	local log=$1 port=$2
	shift 2
	"$WORK/bin/server" -addr "127.0.0.1:$port" -data "$WORK/store" -auth "$WORK/auth.json" "$@" 2>>"$WORK/$log.log" &
	started_pid=$!
	pids+=("$started_pid")
	wait_up "$port"
}

# stop PID: stop a server this script started, and wait for it.
stop() {
	kill "$1"
	wait "$1" 2>/dev/null || true
	local keep=() pid
	for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
	pids=("${keep[@]}")
}

echo "# starting servers" >&2
start_server server "$JA_PORT" -max-upload-size 0 -sweep-interval 0
ja_pid=$started_pid
start_server ja-idx "$JA_IDX_PORT"
idx_pid=$started_pid
start_server ja-alt "$JA_ALT_PORT" -index-budget "$ALT_INDEX_BUDGET"
alt_pid=$started_pid
"$bs" ja -addr "127.0.0.1:$JA_NOFSYNC_PORT" -data "$WORK/store" -auth "$WORK/auth.json" -nofsync -access-log=false 2>"$WORK/ja-nofsync.log" &
janf_pid=$!
pids+=("$janf_pid")
"$bs" ja -addr "127.0.0.1:$JA_CACHE_PORT" -data "$WORK/store" -auth "$WORK/auth.json" -nofsync -nodirect -access-log=false 2>"$WORK/ja-cache.log" &
janc_pid=$!
pids+=("$janc_pid")
"$bs" bare -addr "127.0.0.1:$BARE_PORT" -dir "$F" &
bare_pid=$!
pids+=("$bare_pid")
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -g 'daemon off;' &
nginx_pid=$!
pids+=("$nginx_pid")
wait_up "$JA_NOFSYNC_PORT"
wait_up "$JA_CACHE_PORT"
wait_up "$BARE_PORT"
wait_up "$NGINX_PORT"

JA=http://127.0.0.1:$JA_PORT
JANF=http://127.0.0.1:$JA_NOFSYNC_PORT
JANC=http://127.0.0.1:$JA_CACHE_PORT
JAIDX=http://127.0.0.1:$JA_IDX_PORT
JAALT=http://127.0.0.1:$JA_ALT_PORT
FRESH=http://127.0.0.1:$FRESH_PORT
BARE=http://127.0.0.1:$BARE_PORT
NGINX=http://127.0.0.1:$NGINX_PORT
AUTH="PRIVATE-TOKEN: $TOKEN"
JOB=api/v4/projects/1/jobs

# cpu_ms PID: user+system CPU of a process so far, in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$1/stat"; }

# busy_ms: CPU time the whole machine has spent busy so far (every core,
# every process and the kernel: /proc/stat less idle, iowait and steal), in
# ms. Steal, the time a VM's host gave its CPUs to others, is no work done
# here; steal_pct says how much of a run's time it took.
busy_ms() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { print int(($2 + $3 + $4 + $7 + $8) * 1000 / hz); exit }' /proc/stat; }
# cpu_ticks: all of /proc/stat's CPU time so far and its steal, in ticks.
cpu_ticks() { awk '$1 == "cpu" { for (i = 2; i <= 9; i++) t += $i; print t, $9; exit }' /proc/stat; }
# steal_pct "TOTAL STEAL" (from cpu_ticks, earlier): steal since then, in %
# of all CPU time since then.
steal_pct() { awk -v a="$1" -v b="$(cpu_ticks)" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] - x[1]; printf "%.1f", (t > 0 ? 100 * (y[2] - x[2]) / t : 0) }'; }
ncpu=$(getconf _NPROCESSORS_ONLN)

# check CODE WANT WHAT: fail loudly on an unexpected status.
check() { [ "$1" = "$2" ] || { echo "compare.sh: $3: status $1, want $2" >&2; exit 1; }; }

# upload VARIANT ROUND: one 1-file upload, time in seconds (and server CPU).
upload() {
	local out code t before after pid
	# Each upload starts with no dirty pages of the one before: else the
	# kernel's writeback of those (and its throttling of whoever writes
	# next) lands on the next variant, whichever it is.
	sync
	case $1 in
	nginx)
		before=$(busy_ms)
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -T "$F/big.zip" "$NGINX/dav/up.zip")
		after=$(busy_ms)
		curl -s -o /dev/null -X DELETE "$NGINX/dav/up.zip"
		read -r code t <<<"$out"; check "$code" 201 "nginx PUT"
		echo "$2 up-nginx $t" >>"$WORK/results/upload"
		echo "$2 busy-nginx $((after - before))" >>"$WORK/results/upload"
		# The least time a server that does nginx's work and hashes the
		# file too could take here: the machine's CPU for nginx's upload,
		# plus SHA-256 of the file, spread over every core.
		local h; h=$("$bs" hash -mb "$SIZE_MB")
		echo "$2 hash $h" >>"$WORK/results/upload"
		echo "$2 floor $(awk -v b="$((after - before))" -v h="$h" -v n="$ncpu" 'BEGIN { printf "%.6f", (b / 1000 + h) / n }')" >>"$WORK/results/upload" ;;
	ja | janf | janc | ja-first | janf-first | bare | bare-sha256)
		local url=$JA/api/v4/jobs/1000/artifacts token=$JOB_TOKEN
		pid=$ja_pid
		[ "$1" = janf ] && { url=$JANF/api/v4/jobs/1000/artifacts; pid=$janf_pid; }
		[ "$1" = janc ] && { url=$JANC/api/v4/jobs/1000/artifacts; pid=$janc_pid; }
		[ "$1" = ja-first ] && { url=$JA/api/v4/jobs/$((2000 + $2))/artifacts; token=first-$((2000 + $2)); }
		[ "$1" = janf-first ] && { url=$JANF/api/v4/jobs/$((3000 + $2))/artifacts; token=first-$((3000 + $2)); pid=$janf_pid; }
		[ "$1" = bare ] && { url=$BARE/upload; pid=$bare_pid; }
		[ "$1" = bare-sha256 ] && { url=$BARE/upload-sha256; pid=$bare_pid; }
		before=$(cpu_ms "$pid")
		local mbefore mafter; mbefore=$(busy_ms)
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H 'Transfer-Encoding: chunked' \
			-H "JOB-TOKEN: $token" -F "file=@$F/big.zip" "$url")
		mafter=$(busy_ms)
		# The same bytes again: the handler discards the new blob, and
		# fsstore frees its blocks after the answer. Let that finish
		# before the next variant is timed, and count its CPU here.
		case $1 in ja | janf | janc) sleep 1 ;; esac
		after=$(cpu_ms "$pid")
		read -r code t <<<"$out"; check "$code" 201 "upload to $1"
		echo "$2 up-$1 $t" >>"$WORK/results/upload"
		echo "$2 cpu-$1 $((after - before))" >>"$WORK/results/upload"
		echo "$2 busy-$1 $((mafter - mbefore))" >>"$WORK/results/upload" ;;
	esac
}

# warm CMD...: run CMD once, untimed, so that the timed run after it reads
# its file from the page cache, whichever server sends it. Without it the
# cache decides: a VM may page out file pages untouched for a while (this
# one's DAMON: after 60 s), and the upload rounds touch the file nginx and
# bare Go send (big.zip, which curl reads) but not the handler's copy in
# its store.
warm() { "$@" >/dev/null; }

# download VARIANT ROUND: the whole big archive with the Go client, after
# an untimed one (warm). Before it, the file that the variant sends leaves
# the page cache (dd iflag=nocache count=0), so that every server sends a
# file that the untimed download read in: on kernel 6.18 (ext4), bare
# ServeContent sent big.zip, cached by mkdata's buffered writes, 12-15 %
# faster than the store's copy, written with O_DIRECT and read in by a
# download, and as fast as the store's copy once both were read in alike.
download() {
	local t cmd file=$F/big.zip
	case $1 in
	ja) cmd=("$bs" get "$JA/$JOB/1/artifacts" "$AUTH") file=$big_blob ;;
	janf) cmd=("$bs" get "$JANF/$JOB/1/artifacts" "$AUTH") file=$big_blob ;;
	nginx) cmd=("$bs" get "$NGINX/big.zip") ;;
	bare) cmd=("$bs" get "$BARE/files/big.zip") ;;
	bare-copy) cmd=("$bs" get "$BARE/copy/big.zip") ;;
	esac
	dd if="$file" iflag=nocache count=0 status=none
	warm "${cmd[@]}"
	local before after
	before=$(busy_ms)
	t=$("${cmd[@]}")
	after=$(busy_ms)
	echo "$2 dl-$1 ${t%% *}" >>"$WORK/results/download"
	echo "$2 busy-$1 $((after - before))" >>"$WORK/results/download"
}

# small VARIANT ROUND: wrk -t1 -c16, requests per second, and the server's
# CPU per request in µs (user+system, from /proc: steadier than req/s,
# which wrk's own CPU on the same two cores shares).
small() {
	local url hdr=() rps pid out before after
	case $1 in
	ja-tiny) url=$JA/$JOB/2/artifacts; hdr=(-H "$AUTH") ;;
	bare-tiny) url=$BARE/files/tiny.zip ;;
	ja-entry) url=$JA/$JOB/3/artifacts/dist/4k.bin; hdr=(-H "$AUTH") ;;
	ja-entry100k) url=$JA/$JOB/4/artifacts/dist/4k.bin; hdr=(-H "$AUTH") ;;
	# The handler alone (New(fsstore, tokenauth), nothing in front: the
	# issue's setting), without the example server's access log and limits.
	h-tiny) url=$JANF/$JOB/2/artifacts; hdr=(-H "$AUTH") ;;
	h-entry) url=$JANF/$JOB/3/artifacts/dist/4k.bin; hdr=(-H "$AUTH") ;;
	bare-entry) url=$BARE/files/4k.bin ;;
	# Bare Go sending the handler's bytes: GitLab's download headers too.
	bareh-tiny) url=$BARE/gitlab/tiny.zip ;;
	bareh-entry) url=$BARE/gitlab/4k.bin ;;
	esac
	case $1 in
	ja-*) pid=$ja_pid ;;
	h-*) pid=$janf_pid ;;
	*) pid=$bare_pid ;;
	esac
	before=$(cpu_ms "$pid")
	out=$(wrk -t1 -c16 -d"${WRK_SECS}s" "${hdr[@]}" "$url")
	after=$(cpu_ms "$pid")
	rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
	echo "$2 $1 $rps" >>"$WORK/results/small"
	awk -v ms=$((after - before)) -v r="$2" -v v="$1" '/requests in/ { printf "%s %s %.1f\n", r, v, ms * 1000 / $1 }' <<<"$out" >>"$WORK/results/smallcpu"
}

# lookup VARIANT ROUND: the last of 1M entries ×50 on a warm server, median
# time to first byte (default index budget, or ALT_INDEX_BUDGET).
lookup() {
	local base=$JAIDX out
	[ "$1" = alt ] && base=$JAALT
	out=$("$bs" ttfb -n 50 -warm 3 "$base/$JOB/5/artifacts/$LAST1M" "$AUTH")
	echo "$2 lookup-$1 ${out%% *}" >>"$WORK/results/lookup"
}

# tree VARIANT ROUND: the first page of the recursive tree at 1M entries:
# requests in series after warm-up (median time to the end, the server's
# VmHWM growth over them), then as many at once (VmHWM growth per
# request): TREE_N of each, TREE_OVER_N on ALT_INDEX_BUDGET, which the
# 1M-entry index does not fit (each page walks the whole directory).
tree() {
	local base=$JAIDX pid=$idx_pid n=$TREE_N warm=3 total bytes hwm per _
	[ "$1" = alt ] && { base=$JAALT; pid=$alt_pid; n=$TREE_OVER_N; warm=1; }
	local url="$base/$JOB/5/artifacts/tree?recursive=true&per_page=100"
	read -r _ total bytes hwm <<<"$("$bs" ttfb -n "$n" -warm "$warm" -pid "$pid" "$url" "$AUTH")"
	read -r per _ <<<"$("$bs" conc -pids "$pid" -n "$n" -first 0 -pause 0 -total 0 "$url" "$AUTH")"
	printf '%s tree-%s-s %s\n%s tree-%s-seqkib %s\n%s tree-%s-burstkib %s\n%s tree-%s-bytes %s\n' \
		"$2" "$1" "$total" "$2" "$1" "$hwm" "$2" "$1" "$per" "$2" "$1" "$bytes" >>"$WORK/results/tree"
}

# cold VARIANT ROUND: a fresh example server's first request for the last
# of 1M entries (time to first byte), default index budget or
# ALT_INDEX_BUDGET; or unzip -p of the same entry, the whole process.
cold() {
	local out t
	case $1 in
	def | alt)
		local flags=()
		[ "$1" = alt ] && flags=(-index-budget "$ALT_INDEX_BUDGET")
		start_server fresh "$FRESH_PORT" "${flags[@]}"
		out=$("$bs" ttfb -n 1 -warm 0 "$FRESH/$JOB/5/artifacts/$LAST1M" "$AUTH")
		stop "$started_pid"
		t=${out%% *} ;;
	unzip)
		local TIMEFORMAT=%3R
		t=$({ time unzip -p "$F/big1m.zip" "$LAST1M" >/dev/null; } 2>&1) ;;
	esac
	echo "$2 cold-$1 $t" >>"$WORK/results/cold"
}

# decode VARIANT ROUND: the ENTRY_MB deflate entry over HTTP (example
# server, default flags) or read in process, seconds, after an untimed
# one (warm).
decode() {
	local t cmd
	case $1 in
	http) cmd=("$bs" get "$JAIDX/$JOB/6/artifacts/payload.txt" "$AUTH") ;;
	inproc) cmd=("$bs" decode "$F/deflate.zip" payload.txt) ;;
	esac
	warm "${cmd[@]}"
	t=$("${cmd[@]}")
	echo "$2 dec-$1 ${t%% *}" >>"$WORK/results/decode"
}

# mem VARIANT ROUND: MEM_N GETs at once on a freshly started server, each
# reads 1 MiB, pauses 1 s, reads on to 16 MiB (entries) or 64 MiB (whole
# archives); KiB of VmHWM growth per request.
mem() {
	local path total=$((16 << 20)) out pid
	case $1 in
	deflate) path=$JOB/6/artifacts/payload.txt ;;
	zstd) path=$JOB/7/artifacts/payload.txt ;;
	whole | bare-whole | nginx-whole) path=$JOB/1/artifacts; total=$((64 << 20)) ;;
	esac
	local args=(-n "$MEM_N" -first $((1 << 20)) -pause 1s -total "$total")
	case $1 in
	upload | upload-unbounded)
		# Runner uploads: 4 MiB, a pause, on to 8 MiB (not a zip:
		# refused at its end, after what is measured).
		local flags=()
		[ "$1" = upload-unbounded ] && flags=(-upload-memory 0)
		start_server fresh "$FRESH_PORT" "${flags[@]}"
		out=$("$bs" upconc -pids "$started_pid" -n "$MEM_N" -first $((4 << 20)) -pause 1s -total $((8 << 20)) \
			"$FRESH/api/v4/jobs/1000/artifacts" "JOB-TOKEN: $JOB_TOKEN")
		stop "$started_pid" ;;
	bare-whole)
		"$bs" bare -addr "127.0.0.1:$FRESH_BARE_PORT" -dir "$F" &
		pid=$!
		pids+=("$pid")
		wait_up "$FRESH_BARE_PORT"
		out=$("$bs" conc -pids "$pid" "${args[@]}" "http://127.0.0.1:$FRESH_BARE_PORT/files/big.zip")
		stop "$pid" ;;
	nginx-whole)
		# Its workers: the processes whose parent (field 4 of stat) is the master.
		out=$("$bs" conc -pids "$(awk -v p="$nginx_pid" '$4 == p { print $1 }' /proc/[0-9]*/stat 2>/dev/null | paste -sd,)" "${args[@]}" "$NGINX/big.zip") ;;
	*)
		start_server fresh "$FRESH_PORT"
		out=$("$bs" conc -pids "$started_pid" "${args[@]}" "$FRESH/$path" "$AUTH")
		stop "$started_pid" ;;
	esac
	echo "$2 mem-$1 ${out%% *}" >>"$WORK/results/mem"
}

# rotate ROUND WORDS...: the words, rotated by ROUND.
rotate() {
	local r=$1; shift
	local a=("$@") n=$#
	for ((i = 0; i < n; i++)); do echo "${a[$(((i + r) % n))]}"; done
}

echo "# rows: $ROWS"
echo "# machine: $ncpu CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(grep -qw sha_ni /proc/cpuinfo && echo SHA-NI || echo no SHA-NI), $(go version | cut -d' ' -f3), $(nginx -v 2>&1 | sed 's/.*: //')"
echo "# load before: $(uptime)"
# One warm-up of each, not counted.
if want upload; then upload ja 0; upload janf 0; upload janc 0; upload ja-first 0; upload janf-first 0; upload bare 0; upload bare-sha256 0; upload nginx 0; fi
if want download; then download ja 0; download janf 0; download nginx 0; download bare 0; download bare-copy 0; fi
if want small; then
	for job in 2 3 4; do curl -s -o /dev/null -H "$AUTH" "$JA/$JOB/$job/artifacts/dist/4k.bin"; done
	wrk -t1 -c16 -d1s -H "$AUTH" "$JA/$JOB/4/artifacts/dist/4k.bin" >/dev/null
fi
if want cold; then cat "$F/big1m.zip" >/dev/null; cold def 0; cold unzip 0; fi
if want decode; then decode http 0; decode inproc 0; fi
rm -f "$WORK/results/"*
ticks_before=$(cpu_ticks)
rounds=$N
want upload && [ "$UPLOAD_N" -gt "$rounds" ] && rounds=$UPLOAD_N
want download && [ "$DOWNLOAD_N" -gt "$rounds" ] && rounds=$DOWNLOAD_N
for r in $(seq "$rounds"); do
	echo "# round $r/$rounds" >&2
	if want upload && [ "$r" -le "$UPLOAD_N" ]; then
		for v in $(rotate "$r" nginx ja janf janc ja-first janf-first bare bare-sha256); do upload "$v" "$r"; done
	fi
	if want download && [ "$r" -le "$DOWNLOAD_N" ]; then
		for v in $(rotate "$r" ja janf nginx bare bare-copy); do download "$v" "$r"; done
	fi
	[ "$r" -le "$N" ] || continue
	if want small; then for v in $(rotate "$r" ja-tiny bare-tiny ja-entry bare-entry ja-entry100k h-tiny h-entry bareh-tiny bareh-entry); do small "$v" "$r"; done; fi
	if want lookup; then for v in $(rotate "$r" def alt); do lookup "$v" "$r"; done; fi
	if want tree; then for v in $(rotate "$r" def alt); do tree "$v" "$r"; done; fi
	if want cold; then for v in $(rotate "$r" def alt unzip); do cold "$v" "$r"; done; fi
	if want decode; then for v in $(rotate "$r" http inproc); do decode "$v" "$r"; done; fi
	if want mem; then for v in $(rotate "$r" deflate whole zstd bare-whole nginx-whole upload upload-unbounded); do mem "$v" "$r"; done; fi
done
echo "# load after: $(uptime)"
steal=$(steal_pct "$ticks_before")

# sendfile: system calls of one whole download, per server.
syscalls() {
	local pid=$1 url=$2 header=$3 out=$WORK/strace-$4.txt
	strace -f -c -e trace=sendfile,pread64,read,write,writev -o "$out" -p "$pid" 2>/dev/null &
	local spid=$!
	sleep 1
	"$bs" get "$url" "$header" >/dev/null
	sleep 0.2
	kill -INT "$spid"; wait "$spid" 2>/dev/null || true
	awk '$NF ~ /^(sendfile|pread64|read|write|writev)$/ { printf "%s%s %s", sep, $NF, $4; sep = ", " } END { print "" }' "$out" |
		sed "s/^/$4 (${SIZE_MB} MiB): /"
}

ratio() { "$bs" ratio "$WORK/results/$1" "$2" "$3"; }
value() { "$bs" stat "$WORK/results/$1" "$2" "${3:-1}"; }
# row LABEL FIGURE [GOAL]: one line of the results, in columns.
row() {
	if [ -n "${3:-}" ]; then printf '  %-56s %-30s %s\n' "$1" "$2" "$3"; else printf '  %-56s %s\n' "$1" "$2"; fi
}
altflag="-index-budget $((ALT_INDEX_BUDGET >> 20)) MiB"
echo
echo "## Results: N=$N rounds (upload $UPLOAD_N, download $DOWNLOAD_N); median [min–max] of per-round values or ratios; issue 12's goals on the right"
echo "(steal during the rounds: $steal % of the CPUs' time went to the VM host's other guests; a quiet machine has about 0)"
if want upload; then
	echo
	echo "upload of big.zip (${SIZE_MB} MiB), chunked multipart, time vs nginx DAV PUT (lower is better)"
	echo "(upload, download, small, syscalls: the example server with -max-upload-size 0 -sweep-interval 0)"
	row "handler (example server, fsync)" "$(ratio upload up-ja up-nginx)" "goal ≤ 2.0"
	row "handler, fsstore WithoutFsync" "$(ratio upload up-janf up-nginx)" "goal ≤ 1.0"
	row "handler, WithoutFsync through the page cache" "$(ratio upload up-janc up-nginx)" "(reference: WithoutDirectIO too)"
	row "bare Go multipart to disk" "$(ratio upload up-bare up-nginx)" "(reference)"
	row "bare Go multipart to disk with SHA-256" "$(ratio upload up-bare-sha256 up-nginx)" "(reference)"
	row "  time, s: nginx / handler (fsync) / WithoutFsync" "$(value upload up-nginx) / $(value upload up-ja) / $(value upload up-janf)"
	row "  time, s: WithoutFsync through the page cache" "$(value upload up-janc)"
	echo "the same, a job's first upload (recorded: nothing compared or deleted, as a runner's upload)"
	row "handler (example server, fsync)" "$(ratio upload up-ja-first up-nginx)" "(reference)"
	row "handler, fsstore WithoutFsync" "$(ratio upload up-janf-first up-nginx)" "(reference)"
	row "  time, s: handler (fsync) / WithoutFsync" "$(value upload up-ja-first) / $(value upload up-janf-first)"
	echo "upload, server CPU vs bare Go (lower is better)"
	row "handler (fsync)" "$(ratio upload cpu-ja cpu-bare)" "goal ≤ 1.2"
	row "handler, WithoutFsync" "$(ratio upload cpu-janf cpu-bare)" "goal ≤ 1.2"
	echo "upload vs bare Go that hashes the file part as it writes it (SHA-256, as GitLab keeps; lower is better)"
	row "time: handler (fsync)" "$(ratio upload up-ja up-bare-sha256)"
	row "time: handler, WithoutFsync" "$(ratio upload up-janf up-bare-sha256)"
	row "server CPU: handler (fsync)" "$(ratio upload cpu-ja cpu-bare-sha256)"
	row "server CPU: handler, WithoutFsync" "$(ratio upload cpu-janf cpu-bare-sha256)"
	row "  server CPU, ms: bare Go / with SHA-256" "$(value upload cpu-bare) / $(value upload cpu-bare-sha256)"
	row "  server CPU, ms: handler (fsync) / WithoutFsync" "$(value upload cpu-ja) / $(value upload cpu-janf)"
	echo "upload, the machine's CPU while curl runs (all $ncpu cores: curl, server, kernel), and the floor it sets"
	row "  machine CPU, ms: nginx / handler (fsync) / WithoutFsync" "$(value upload busy-nginx) / $(value upload busy-ja) / $(value upload busy-janf)"
	row "  machine CPU, ms: WithoutFsync through the page cache" "$(value upload busy-janc)"
	row "  SHA-256 of ${SIZE_MB} MiB in memory, one core, s" "$(value upload hash)"
	row "floor: (nginx's machine CPU + SHA-256) / $ncpu cores vs nginx's time" "$(ratio upload floor up-nginx)" "(reference: a hashing server's least time)"
fi
if want download; then
	echo
	echo "whole archive (${SIZE_MB} MiB), Go client, throughput (higher is better)"
	row "handler vs nginx" "$(ratio download dl-nginx dl-ja)" "goal ≥ 1.0"
	row "handler vs bare ServeContent" "$(ratio download dl-bare dl-ja)" "goal ≥ 0.95"
	row "handler alone (New(fsstore, tokenauth)) vs bare ServeContent" "$(ratio download dl-bare dl-janf)" "(reference)"
	row "bare ServeContent vs nginx" "$(ratio download dl-nginx dl-bare)" "(reference)"
	row "bare ServeContent without sendfile (32 KiB copies) vs nginx" "$(ratio download dl-nginx dl-bare-copy)" "(reference: over loopback, sendfile leaves the copy from the page cache to the client)"
	row "  seconds: handler / nginx / bare ServeContent" "$(value download dl-ja) / $(value download dl-nginx) / $(value download dl-bare)"
	row "  seconds: bare without sendfile" "$(value download dl-bare-copy)"
	row "  machine CPU, ms (all $ncpu cores): handler / nginx / bare" "$(value download busy-ja) / $(value download busy-nginx) / $(value download busy-bare)"
	row "  machine CPU, ms: bare without sendfile" "$(value download busy-bare-copy)"
fi
if want small; then
	echo
	echo "small requests, wrk -t1 -c16 -d${WRK_SECS}s after warm-up, req/s (higher is better)"
	row "example server: tiny whole archive vs bare Go" "$(ratio small ja-tiny bare-tiny)" "goal ≥ 0.8"
	row "example server: 4 KiB entry of a 10-entry zip vs bare Go 4 KiB" "$(ratio small ja-entry bare-entry)" "goal ≥ 0.8"
	row "handler alone (New(fsstore, tokenauth)): tiny archive" "$(ratio small h-tiny bare-tiny)" "goal ≥ 0.8"
	row "handler alone: 4 KiB entry of a 10-entry zip" "$(ratio small h-entry bare-entry)" "goal ≥ 0.8"
	row "handler alone vs bare Go sending GitLab's headers too: tiny" "$(ratio small h-tiny bareh-tiny)" "(reference: the same bytes on the wire)"
	row "handler alone vs bare Go sending GitLab's headers too: entry" "$(ratio small h-entry bareh-entry)" "(reference)"
	row "bare Go with GitLab's headers vs without: tiny / entry" "$(ratio small bareh-tiny bare-tiny) / $(ratio small bareh-entry bare-entry)"
	row "server CPU per request, µs: handler alone, tiny" "$(value smallcpu h-tiny)"
	row "  bare Go / with GitLab's headers, tiny" "$(value smallcpu bare-tiny) / $(value smallcpu bareh-tiny)"
	row "server CPU per request, µs: handler alone, entry" "$(value smallcpu h-entry)"
	row "  bare Go / with GitLab's headers, entry" "$(value smallcpu bare-entry) / $(value smallcpu bareh-entry)"
	row "same entry, last of 100k entries, vs 10-entry zip" "$(ratio small ja-entry100k ja-entry)" "goal ≥ 0.9 (the same once warm)"
	row "  req/s: last of 100k entries" "$(value small ja-entry100k)"
	row "  req/s: 10-entry zip" "$(value small ja-entry)"
	row "  req/s: bare Go 4 KiB" "$(value small bare-entry)"
fi
if want lookup; then
	echo
	echo "last of 1M entries, ×50 after 3 warm-ups, median time to first byte, ms (lower is better)"
	row "example server, default flags" "$(value lookup lookup-def 1000)" "goal ≤ 1 ms"
	row "example server, $altflag (over budget: walked)" "$(value lookup lookup-alt 1000)" "(reference)"
fi
if want tree; then
	echo
	echo "tree?recursive=true&per_page=100 at 1M entries, first page, warm (lower is better)"
	row "default flags: time to the end, ms" "$(value tree tree-def-s 1000)" "goal ≤ 50 ms"
	row "  VmHWM growth over $TREE_N in series, KiB" "$(value tree tree-def-seqkib)" "goal: bounded by the page"
	row "  VmHWM growth per request, $TREE_N at once, KiB" "$(value tree tree-def-burstkib)" "goal: bounded by the page"
	row "$altflag (over budget: streamed): time to the end, ms" "$(value tree tree-alt-s 1000)" "(reference)"
	row "  VmHWM growth over $TREE_OVER_N in series, KiB" "$(value tree tree-alt-seqkib)" "goal: bounded by the page"
	row "  VmHWM growth per request, $TREE_OVER_N at once, KiB" "$(value tree tree-alt-burstkib)" "goal: bounded by the page"
	row "  the page: bytes of JSON" "$(value tree tree-def-bytes)"
fi
if want cold; then
	echo
	echo "cold lookup, last of 1M entries: a fresh server's first request (time to first byte) vs unzip -p (whole process), lower is better"
	row "default flags vs unzip -p" "$(ratio cold cold-def cold-unzip)" "goal ≤ 0.5"
	row "$altflag vs unzip -p" "$(ratio cold cold-alt cold-unzip)" "goal ≤ 0.5"
	row "  ms: default flags" "$(value cold cold-def 1000)"
	row "  ms: $altflag" "$(value cold cold-alt 1000)"
	row "  ms: unzip -p" "$(value cold cold-unzip 1000)"
fi
if want decode; then
	echo
	echo "${ENTRY_MB} MiB deflate entry over HTTP (example server, default flags) vs read in process, throughput (higher is better)"
	row "handler vs in-process klauspost decode" "$(ratio decode dec-inproc dec-http)" "goal ≥ 0.7"
	row "  seconds: over HTTP" "$(value decode dec-http)"
	row "  seconds: in process" "$(value decode dec-inproc)"
fi
if want mem; then
	echo
	echo "memory per in-flight request: $MEM_N GETs at once on a fresh server (default flags); each reads 1 MiB, pauses 1 s, reads on"
	echo "to 16 MiB (entries) or 64 MiB (whole archives); (VmHWM − RSS before)/$MEM_N, KiB (lower is better)"
	row "handler, ${ENTRY_MB} MiB deflate entry" "$(value mem mem-deflate)" "goal ≤ 1024"
	row "handler, ${ENTRY_MB} MiB zstd entry (8 MiB window)" "$(value mem mem-zstd)" "goal ≤ 1024"
	row "handler, whole ${SIZE_MB} MiB archive" "$(value mem mem-whole)" "goal ≤ 1024"
	row "bare Go ServeContent, whole archive" "$(value mem mem-bare-whole)" "(reference)"
	row "nginx, whole archive (its workers)" "$(value mem mem-nginx-whole)" "(reference)"
	echo "memory per in-flight runner upload: $MEM_N at once on a fresh server; each sends 4 MiB, pauses 1 s, sends on to 8 MiB; KiB"
	row "handler, default -upload-memory (256 MiB of 4 MiB blocks)" "$(value mem mem-upload)" "(bounded: 256 MiB in all, then 64 KiB blocks)"
	row "handler, -upload-memory 0 (no bound)" "$(value mem mem-upload-unbounded)" "(reference: up to eight 4 MiB blocks an upload)"
fi
if want syscalls; then
	echo
	echo "system calls of one whole-archive download (strace -f -c):"
	syscalls "$ja_pid" "$JA/$JOB/1/artifacts" "$AUTH" "example server"
	syscalls "$janf_pid" "$JANF/$JOB/1/artifacts" "$AUTH" "handler alone"
	syscalls "$bare_pid" "$BARE/files/big.zip" "X-None: 1" "bare Go"
fi
echo
echo "raw values: $WORK/results/ (round variant value: seconds, CPU ms, req/s, KiB, bytes); took $((SECONDS - started)) s"
