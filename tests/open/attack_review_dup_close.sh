#!/bin/sh
# attack_review_dup_close.sh — found while fixing the stale push: nobody,
# with the shim preloaded, accepts B's connection, dup2()s it onto fd 0 (and,
# second case, fd 10), closes the original and its listener, reads B's
# orders from the dup and connects to B4:8000 (allowed unless the chain comes
# from B). Accepted with a local chain — with a hand-made CONNECT record
# first (a push) and without (asked). Prints FAIL-CASE while it works.
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
CONTROLS="dup2 dup2hi" CASES="dup2 dup2hi" exec sh "$top/tests/func/attack_push_stale.sh"
