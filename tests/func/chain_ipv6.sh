#!/bin/sh
# chain_ipv6.sh — the paper's experiments 1 and 2 over IPv6 only: ssh from h1 to
# h2 by h2's IPv6 address, and from that session `nc -6 h3 22` and
# `ssh h3` by h3's IPv6 address. On h2, `hoptrace who` for each onward
# connection: exactly one chain, origin h1 (h2's collector asks h1's about
# the IPv6 session connection), src [h1]:*, dst [h3]:22, complete, and the
# processes in order; h1's collector answers over the inquiry service for an
# IPv6 connection.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
A1=fd00:231::1 A2=fd00:231::2 A3=fd00:231::3
CT_ONWARD="( dst [$A3] and dport = :22 )"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
ct_setup
# (IPv6 duplicate address detection: wait until the addresses are usable)
for h in h1 h2 h3; do
	i=0
	until [ -z "$(tb_exec "$h" ip -6 addr show tentative 2>/dev/null)" ]; do
		i=$((i + 1)); [ $i -lt 50 ] || tb_fail "$h: IPv6 address still tentative"; sleep 0.1
	done
done

# v6_who PID TAG PROCS : the checks above
v6_who() {
	_lr=$(ct_onward "$1")
	[ -n "$_lr" ] || { echo "pid $1 has no connection to [$A3]:22"; return 1; }
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$2.json" || { cat "$TB_T/$2.json"; return 1; }
	tb_assert_chain "$TB_T/$2.json" --count 1 --origin h1 --src "[$A1]:*" --dst "[$A3]:22" \
		--complete --no-origin h2 --procs "$3" --ordered
}

tb_log "ssh -6 h1 -> h2, then nc -6 h3 22 from the session"
tb_bg h1 ssh -tt "root@$A2" "nc -6 -d $A3 22"
ct_wait_new_onward 15 || { tail -n 20 "$TB_LASTLOG"; tb_fail "no IPv6 connection from h2 to h3:22"; }
ct_case "IPv6 ssh then nc: origin h1" "" v6_who "$CT_P" nc "h1:ssh,h2:sshd+,h2:bash?,h2:nc.openbsd"

tb_log "ssh -6 h1 -> h2 -> h3"
tb_bg h1 ssh -tt "root@$A2" "ssh -tt root@$A3 sleep 600"
ct_wait_new_onward 15 || { tail -n 20 "$TB_LASTLOG"; tb_fail "no IPv6 ssh from h2 to h3"; }
ct_case "IPv6 ssh then ssh: origin h1" "" v6_who "$CT_P" ssh "h1:ssh,h2:sshd+,h2:bash?,h2:ssh"
ct_finish
