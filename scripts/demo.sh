#!/usr/bin/env bash
# make demo: start a throwaway local S3 server, upload a sample tree with
# walk | put | stat, upload it again (everything skipped), then stop the server.
set -euo pipefail
work=$(mktemp -d -t s3pput-demo-XXXXXX)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== starting a local S3 server (SeaweedFS on loopback)"
s3pput-local-s3 --bucket demo --env-file "$work/env" >/dev/null &
server_pid=$!
for _ in $(seq 1 300); do
    [ -s "$work/env" ] && break
    kill -0 "$server_pid" 2>/dev/null || { echo "the local S3 server did not start" >&2; exit 1; }
    sleep 0.1
done
[ -s "$work/env" ] || { echo "the local S3 server did not start in time" >&2; exit 1; }
# shellcheck disable=SC1091
source "$work/env"

echo "== making a sample tree of 1,000 small files in $work/site"
python3 - "$work/site" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(20):
    os.makedirs(f"{root}/dir{d:02}", exist_ok=True)
    for f in range(50):
        ext = ("html", "css", "js", "txt", "bin")[f % 5]
        with open(f"{root}/dir{d:02}/file{f:02}.{ext}", "wb") as out:
            out.write(os.urandom(1024 + f * 40))
PY

echo "== s3pput-walk $work/site --prefix www | s3pput-put --bucket demo | s3pput-stat"
s3pput-walk "$work/site" --prefix www | s3pput-put --bucket demo | tee "$work/run.ndjson" | s3pput-stat
echo
echo "== a result record:"
head -1 "$work/run.ndjson"
echo
echo "== the same again: unchanged files are skipped"
s3pput-walk "$work/site" --prefix www | s3pput-put --bucket demo | s3pput-stat
