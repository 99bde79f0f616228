# tests/lib/fleetchain.sh — the bed of the fleet tests that ask h2's collector
# about one relayed ssh connection (tests/func/attack_fleet_*.sh,
# fleet_reload.sh), sourced after testbed.sh:
#   fc_setup NET  hosts h1, h2, h3 at NET.1, NET.2, NET.3 ($H1 $H2 $H3), each
#                 with sshd and a collector, the shim preloaded
#   fc_chain      root's `ssh h1 -> h2 -> h3` (h1: ssh H2 "ssh H3 sleep 300");
#                 $L $R: h2's connection to h3, $p: its ssh on h2

fc_setup() {
	H1=$1.1 H2=$1.2 H3=$1.3
	tb_switch
	for _fc_h in 1 2 3; do
		tb_host h$_fc_h "$1.$_fc_h"
		tb_sshd h$_fc_h
		tb_collector h$_fc_h
	done
	tb_preload on
}

fc_chain() {
	tb_log "setup: ssh h1 -> h2 -> h3"
	tb_bg h1 ssh $H2 "ssh $H3 sleep 300"
	p=$(tb_wait_pid h2 "^ssh $H3" 10) || tb_fail "no ssh to h3 on h2"
	_fc_c="" _fc_i=0
	while [ -z "$_fc_c" ] && [ $_fc_i -lt 50 ]; do
		_fc_c=$(tb_exec h2 ss -Htnp state established "( dst $H3 and dport = :22 )" 2>/dev/null |
			grep "pid=$p," | awk '{print $3, $4}' | head -n 1)
		_fc_i=$((_fc_i + 1)); sleep 0.1
	done
	[ -n "$_fc_c" ] || tb_fail "ssh on h2 did not connect to h3"
	L=${_fc_c% *} R=${_fc_c#* }
}
