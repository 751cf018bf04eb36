#!/bin/sh
# Run the netcheck agent zipapp on a Linux host by hand (the SSH transport does the
# same thing itself: it uploads netcheck-agent-<hash>.pyz to ~/.netcheck/ and runs it
# with the topology's agent.python). Picks the first Python 3.9+ it finds.
#
#   netcheck-agent.sh [PATH/TO/netcheck-agent-*.pyz] [--max-seconds N] [--log-file F]
#
# The agent speaks JSON lines on stdin/stdout, opens no control port, and exits when
# stdin closes or after --max-seconds (default 3600).
set -eu
here=$(dirname "$0")
pyz=""
case "${1:-}" in
  *.pyz) pyz=$1; shift ;;
esac
if [ -z "$pyz" ]; then
  for f in "$here"/netcheck-agent-*.pyz "$HOME"/.netcheck/netcheck-agent-*.pyz; do
    [ -f "$f" ] && pyz=$f
  done
fi
if [ -z "$pyz" ]; then
  echo "netcheck-agent.sh: no netcheck-agent-*.pyz found; build one with 'netcheck agent build'" >&2
  exit 2
fi
for py in ${NETCHECK_PYTHON:-} python3 python3.13 python3.12 python3.11 python3.10 python3.9 python; do
  [ -n "$py" ] || continue
  command -v "$py" >/dev/null 2>&1 || continue
  if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    exec "$py" "$pyz" "$@"
  fi
done
echo "netcheck-agent.sh: no Python 3.9 or newer found (set NETCHECK_PYTHON)" >&2
exit 127
