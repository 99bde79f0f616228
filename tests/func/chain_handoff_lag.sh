#!/bin/sh
# chain_handoff_lag.sh — chain_handoff.sh with h2's collector lagging behind
# the records (stopped 200 ms of every 250 ms): the hand-offs' chains must be
# the same when records are applied after their fds are gone and sock_diag is
# asked before the collector accepted a record connection.
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
CT_LAG=${CT_LAG:-"0.2 0.05"} exec sh "$top/tests/func/chain_handoff.sh" "$@"
