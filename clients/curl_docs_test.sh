#!/usr/bin/env bash
# The curl lines of GitLab's Job Artifacts API docs, run against the example
# server that run.sh started (GITLAB_URL, GITLAB_TOKEN, GITLAB_JOB_TOKEN), with
# <your_access_token> and $CI_JOB_TOKEN filled in. Each checks the status and
# the payload. Prints one line per check and "N passed, M failed"; exits 1 on
# failure.
set -uo pipefail

: "${GITLAB_URL:?}" "${GITLAB_TOKEN:?}" "${GITLAB_JOB_TOKEN:?}"
API="$GITLAB_URL/api/v4/projects/1"
CI_JOB_TOKEN="$GITLAB_JOB_TOKEN"
python=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

passed=0
failed=0
status=""

# doc runs one curl line of the docs, adding only -sS and --write-out for the
# status (and --output body when the line has none); $status is then the
# status and the payload is in the line's output file or ./body.
doc() {
	local has_output=no arg
	for arg in "$@"; do
		case "$arg" in --output | -o) has_output=yes ;; esac
	done
	rm -f body
	if [ "$has_output" = yes ]; then
		status="$("$@" -sS --write-out '%{http_code}')"
	else
		status="$("$@" -sS --write-out '%{http_code}' --output body)"
	fi
}

# check NAME COMMAND…: the command's exit status decides.
check() {
	local name="$1"
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name (status $status)"
	fi
}

is_status() { [ "$status" = "$1" ]; }
# zip_has FILE ENTRY: FILE is a zip with ENTRY in it.
zip_has() { "$python" -c 'import sys, zipfile; sys.exit(sys.argv[2] not in zipfile.ZipFile(sys.argv[1]).namelist())' "$1" "$2"; }
# json_is FILE EXPR: the Python expression EXPR holds for the JSON in FILE, as j.
json_is() { "$python" -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(not eval(sys.argv[2]))' "$1" "$2"; }

# Get job artifacts: personal token, JOB-TOKEN header, job_token query.
doc curl --location --output artifacts.zip --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/42/artifacts"
check "job 42 archive, PRIVATE-TOKEN" eval 'is_status 200 && zip_has artifacts.zip coverage/reports/index.html'
cp artifacts.zip job42.zip
doc curl --location --output artifacts.zip --header "JOB-TOKEN: $CI_JOB_TOKEN" "$API/jobs/42/artifacts"
check "job 42 archive, JOB-TOKEN header" eval 'is_status 200 && cmp -s artifacts.zip job42.zip'
doc curl --location --output artifacts.zip "$API/jobs/42/artifacts?job_token=$CI_JOB_TOKEN"
check "job 42 archive, job_token query" eval 'is_status 200 && cmp -s artifacts.zip job42.zip'

# Download the artifacts archive of the latest successful pipeline of a ref.
doc curl --location --output artifacts.zip --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/artifacts/main/download?job=test"
check "ref main archive, PRIVATE-TOKEN" eval 'is_status 200 && cmp -s artifacts.zip job42.zip'
doc curl --location --output artifacts.zip --header "JOB-TOKEN: $CI_JOB_TOKEN" "$API/jobs/artifacts/main/download?job=test"
check "ref main archive, JOB-TOKEN header" eval 'is_status 200 && cmp -s artifacts.zip job42.zip'
doc curl --location --output artifacts.zip "$API/jobs/artifacts/master/download?job=test&job_token=$CI_JOB_TOKEN"
check "ref master archive, job_token query" eval 'is_status 200 && cmp -s artifacts.zip job42.zip'
doc curl --location --output artifacts.zip --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/artifacts/master/download?job=test&search_recent_successful_pipelines=true"
check "ref master archive, search_recent_successful_pipelines" eval 'is_status 200 && cmp -s artifacts.zip job42.zip'

# Download a single artifact file by job ID and from a ref.
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/5/artifacts/some/release/file.pdf"
check "file.pdf of job 5" eval 'is_status 200 && head -c 5 body | grep -q "^%PDF-"'
cp body job5.pdf
doc curl --location --header "JOB-TOKEN: $CI_JOB_TOKEN" "$API/jobs/5/artifacts/some/release/file.pdf"
check "file.pdf of job 5, JOB-TOKEN header" eval 'is_status 200 && cmp -s body job5.pdf'
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/artifacts/main/raw/some/release/file.pdf?job=pdf"
check "file.pdf from ref main" eval 'is_status 200 && cmp -s body job5.pdf'
doc curl --location "$API/jobs/artifacts/master/raw/some/release/file.pdf?job=pdf&job_token=$CI_JOB_TOKEN"
check "file.pdf from ref master, job_token query" eval 'is_status 200 && cmp -s body job5.pdf'
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/artifacts/refs%2Fmerge-requests%2F123%2Fhead/raw/file.txt?job=test"
check "file.txt from merge request ref" eval 'is_status 200 && grep -q "merge request" body'

# List the archive's files.
doc curl --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/42/artifacts/tree"
check "tree of job 42" eval 'is_status 200 && json_is body "{e[\"name\"] for e in j} >= {\"ci_build_artifacts.zip\", \"other_artifacts_0.1.2\"}"'
doc curl --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/42/artifacts/tree?path=coverage/reports&recursive=true"
check "tree of job 42, path and recursive" eval 'is_status 200 && json_is body "\"coverage/reports/index.html\" in [e[\"path\"] for e in j]"'

# Errors the docs describe.
doc curl --location --header "PRIVATE-TOKEN: glpat-not-a-token" "$API/jobs/42/artifacts"
check "unknown token: 401" eval 'is_status 401 && json_is body "j == {\"message\": \"401 Unauthorized\"}"'
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/artifacts/main/download"
check "missing job parameter: 400" eval 'is_status 400 && json_is body "j == {\"error\": \"job is missing\"}"'
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/42/artifacts/no/such/file"
check "missing file: 404" is_status 404

# Keep artifacts, then delete them: job, then project.
doc curl --request POST --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/1/artifacts/keep"
check "keep job 1" eval 'is_status 200 && json_is body "j[\"id\"] == 1 and j[\"name\"] == \"rubocop\" and j[\"artifacts_expire_at\"] is None and j[\"failure_reason\"] == \"script_failure\""'
doc curl --request POST --header "JOB-TOKEN: $CI_JOB_TOKEN" "$API/jobs/1/artifacts/keep"
check "keep with a job token: 401" is_status 401
doc curl --request DELETE --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/42/artifacts"
check "delete job 42 artifacts: 204, empty" eval 'is_status 204 && [ ! -s body ]'
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/42/artifacts"
check "job 42 archive after delete: 404" is_status 404
doc curl --request DELETE --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/artifacts"
check "delete project artifacts: 202" eval 'is_status 202 && json_is body "j == {\"message\": \"202 Accepted\"}"'
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/5/artifacts/some/release/file.pdf"
check "file.pdf of job 5 after project delete: 404" is_status 404
doc curl --location --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$API/jobs/1/artifacts/rubocop.json"
check "kept job 1 still served" eval 'is_status 200 && grep -q offense_count body'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
