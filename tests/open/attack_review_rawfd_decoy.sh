#!/bin/sh
# attack_review_rawfd_decoy.sh (open: fifo17 of attack_review_rawfd_scans.sh, not fixed) — review of issue 10's /proc holder searches
# OPEN (found, not fixed; accepted on a complete local chain on wt-atk
# 25c62ca and later): fifo17 below. The push's walk searches the FIFO's
# holders, takes the first 16 (the sleepers: lower pids) and says
# holders_incomplete; the sleepers are in the graph now, so the guard's who
# finds "a writer the graph knows" (chain.c fifo_holders) and searches no
# more — H, the 17th, holding B's connection, is never looked for. One
# shimmed process holding the FIFO open should do as well (not tried). A
# fix: search even when the graph knows a live holder (the reader is found
# in its own uid's pass, so that pass is all that runs: the owner's
# processes, each walk) — tried and set aside for its cost to every pipe
# reader's walk (4 searches a walk: a pipeline of five would be incomplete)
# within the session's time; it needs its own bound and a bench.
# (docs/chain-model.md "Kernel fallback"): the walk's bounds on searches for
# the holders of what no record names. As nobody on A, against a policy that
# refuses every chain whose origin is B ("B4, *, *, *, black, *") and allows
# B4:8000 otherwise, a helper H of nobody's, run WITHOUT the shim, accepts B's
# connection, keeps it open and hands B's orders to the subject S (shim),
# which connect()s to B4:8000:
#   unixN        S connects (libc, shim: CONNECT) to H's unix socket, then to
#                N-1 more unix listeners of unshimmed decoys of nobody's; H
#                sends B's orders over its socket. Each peer's holders are
#                searched for in /proc; a walk makes at most 4 searches —
#                the rest (H's last: the walk takes the newest first) were
#                skipped without saying so, and their peers marked "nobody
#                we may see" (kscanned), never searched again. unix5: the
#                push's walk and the guard's who between them search all
#                five (refused on main 812e114); unix9 and unix13 accepted
#                on a complete local chain on main 812e114, unix13 on its
#                push
#   fifo17       H writes B's orders into a FIFO that S opened (libc) and
#                that 16 unshimmed sleepers of nobody's, started before H,
#                also hold: a walk takes at most 16 holders of a search, and
#                stopped without saying so before H — on main 812e114 the
#                chain is local but complete: false (the search ran out of
#                the query's budget): refused as incomplete
# B's connection is open in H when the SYN is judged and H feeds S — each must
# be refused: on the rule of origin B, or, a search cut short or skipped, as
# incomplete (the policy's @incomplete: the default, reject).
# Prints FAIL-CASE and exits 1 while a case is accepted, or refused on a
# chain without B.
# (the case is tests/func/attack_review_rawfd_scans.sh's fifo17, which that test does
# not run by default while it is open)
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
CASES=${CASES:-fifo17} exec sh "$top/tests/func/attack_review_rawfd_scans.sh" "$@"
