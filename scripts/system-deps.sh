#!/usr/bin/env bash
# Install the few system packages s3pput needs: libmagic (for python-magic), jq and GNU parallel
# (tests, examples). With --test, also what the two-host tests need: OpenSSH (client and
# server, for the hosts), iproute2 (their network namespaces), zsh, fish and groff (the
# completion and man page tests) and Chromium (headless: the run report's screenshot test,
# tests/e2e/test_stat_report.py). With --node, node and
# npm (s3rver, for the compatibility matrix). With --fuse, what make bench-walk's FUSE mount needs.
# With --bench, nginx and its njs module (make bench-client's null S3 endpoint, which the bench
# starts itself on a loopback port; Debian's packaging may also enable the nginx service).
set -euo pipefail
missing=()
ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1' || missing+=(libmagic1)
command -v jq >/dev/null || missing+=(jq)
parallel --version 2>/dev/null | grep -q 'GNU parallel' || missing+=(parallel)
if [ "${1:-}" = "--test" ]; then
    command -v ssh >/dev/null || missing+=(openssh-client)
    [ -x /usr/sbin/sshd ] || command -v sshd >/dev/null || missing+=(openssh-server)
    command -v ip >/dev/null || missing+=(iproute2)
    # The shells whose completion the tests drive, and groff to render the man pages.
    command -v zsh >/dev/null || missing+=(zsh)
    command -v fish >/dev/null || missing+=(fish)
    command -v groff >/dev/null || missing+=(groff-base)
    command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
fi
if [ "${1:-}" = "--node" ]; then
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
fi
if [ "${1:-}" = "--fuse" ]; then
    command -v fusermount >/dev/null || missing+=(fuse)
    ldconfig -p 2>/dev/null | grep -q 'libfuse\.so\.2' || missing+=(libfuse2)
fi
if [ "${1:-}" = "--bench" ]; then
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    [ -f /usr/lib/nginx/modules/ngx_http_js_module.so ] || missing+=(libnginx-mod-http-js)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "s3pput needs: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
if command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "please install: ${missing[*]}" >&2
    exit 1
fi
