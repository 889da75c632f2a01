#!/usr/bin/env bash
# Runs the real-client suites (python-gitlab, gitbeaker, the docs' curl lines)
# against the example server. Each suite gets a fresh server: the demo data
# of GitLab's docs plus job 60 (ref feature/x, job "build"), whose archive
# holds the names of special_entries.txt, the ones clients escape differently.
# Fails if a suite fails or a client is missing: nothing is skipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
python=/usr/bin/python3 # Debian's, which has python3-gitlab

fail() { echo "clients/run.sh: $*" >&2; exit 1; }

"$python" -c 'import gitlab' 2>/dev/null ||
	fail "python-gitlab is missing: apt-get install -y python3-gitlab"
[ -f "$here/node_modules/@gitbeaker/rest/package.json" ] ||
	fail "gitbeaker is missing: (cd clients && npm ci)"
command -v node >/dev/null || fail "node is missing"
command -v curl >/dev/null || fail "curl is missing"

work="$(mktemp -d)"
server_pid=""
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}
trap 'stop_server; rm -rf "$work"' EXIT

go -C "$root/examples/server" build -o "$work/server" . # a module of its own

# The archive of job 60: each entry's content is "content of <name>\n".
"$python" - "$here/special_entries.txt" "$work/special.zip" <<'PY'
import sys, zipfile
names = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
    for n in names:
        z.writestr(n, f"content of {n}\n")
PY

export GITLAB_TOKEN="glpat-client-suite-maintainer"
export GITLAB_JOB_TOKEN="glcbt-client-suite-deploy-job"
export SPECIAL_ENTRIES="$here/special_entries.txt"
export SPECIAL_JOB_ID=60 SPECIAL_REF="feature/x" SPECIAL_JOB=build

# start_server seeds a fresh data directory, starts the server on a free
# loopback port and sets GITLAB_URL once it answers.
start_server() {
	local data="$work/data-$1" log="$work/server-$1.log"
	mkdir -p "$data"
	"$work/server" import -data "$data" -project demo/project -project-id 1 \
		-pipeline 60 -ref "$SPECIAL_REF" -job "$SPECIAL_JOB" -job-id "$SPECIAL_JOB_ID" \
		-status success "$work/special.zip" >/dev/null
	"$work/server" -addr 127.0.0.1:0 -data "$data" -demo \
		-token "$GITLAB_TOKEN" -job-token "$GITLAB_JOB_TOKEN" >"$work/server-$1.out" 2>"$log" &
	server_pid=$!
	local addr=""
	for _ in $(seq 1 100); do
		addr="$(grep -o 'msg="serving the Job Artifacts API" addr=[^ ]*' "$log" | sed 's/.*addr=//' || true)"
		[ -n "$addr" ] && break
		kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; fail "server exited"; }
		sleep 0.1
	done
	[ -n "$addr" ] || { cat "$log" >&2; fail "server did not start"; }
	export GITLAB_URL="http://$addr"
	curl -fsS -o /dev/null -H "PRIVATE-TOKEN: $GITLAB_TOKEN" "$GITLAB_URL/api/v4/projects/1/jobs/42/artifacts" ||
		fail "server at $GITLAB_URL does not serve the demo"
}

failed=()
total_passed=0
total_failed=0
# run_suite runs one suite on its own server and adds up the counts of its
# closing "N passed, M failed" line; a suite without one counts as a failure.
run_suite() {
	local name="$1" status=0 summary
	shift
	echo "== $name"
	start_server "$name"
	"$@" 2>&1 | tee "$work/$name.out" || status=$?
	stop_server
	summary="$(tail -n 1 "$work/$name.out")"
	if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		total_passed=$((total_passed + BASH_REMATCH[1]))
		total_failed=$((total_failed + BASH_REMATCH[2]))
	else
		total_failed=$((total_failed + 1))
	fi
	if [ "$status" -ne 0 ] || [[ ! "$summary" =~ \ 0\ failed$ ]]; then
		failed+=("$name")
		# A suite that exited non-zero after a clean summary still failed.
		if [[ "$summary" =~ \ 0\ failed$ ]]; then total_failed=$((total_failed + 1)); fi
		echo "-- server log of $name:" >&2
		tail -n 40 "$work/server-$name.log" >&2
	fi
}

run_suite python-gitlab "$python" "$here/python_gitlab_test.py"
run_suite gitbeaker node "$here/gitbeaker_test.mjs"
run_suite curl bash "$here/curl_docs_test.sh"

if [ "${#failed[@]}" -gt 0 ]; then
	echo "clients/run.sh: failed suites: ${failed[*]}" >&2
	echo "client suites: $total_passed passed, $total_failed failed"
	exit 1
fi
echo "client suites: $total_passed passed, $total_failed failed"
