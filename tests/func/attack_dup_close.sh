#!/bin/sh
# attack_dup_close.sh — nobody, with the shim preloaded, accepts B's
# connection, moves it to another fd and closes the original and its
# listener, reads B's orders from the copy and connects to B4:8000 (refused
# when the chain comes from B: attack_push_stale.sh's policy). Before the fix
# the collector read the ACCEPT after the fd had moved: the claim was
# unconfirmed and not believed (the socket lived on, on an fd no record
# named), the DUP named an fd the table did not know and the CLOSE ended
# nothing — the chain was local. Every way to duplicate: dup2 onto fd 0 and
# 10, dup3, dup (the shim's DUP records), fcntl F_DUPFD / F_DUPFD_CLOEXEC (no
# record: the kernel's table is read when a claim's fd or the last fd of a
# socket's hold is gone), the original closed after reading (dup2hi_late).
# Run twice: as fast as the program goes (controls, no push), and with the
# collector stopped across the accept/dup/close (the ACCEPT, DUP, CLOSE
# applied after the fact, a push first). Each must be refused.
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
set -- dup2 dup2hi dup3 dup fdupfd fdupfd_cloexec dup2hi_late
CONTROLS="$*" CASES="$*" HOLD_COLLECTOR=1 DUP_PAUSE=0.4 exec sh "$top/tests/func/attack_push_stale.sh"
