# tests/lib/chainsess.sh — shared by chain_tmux.sh, chain_screen.sh and
# chain_sessions.sh (sourced after testbed.sh and chaintest.sh). Four hosts,
# each with sshd and a collector, the shim preloaded: h1 and h4 log into h2
# (the host whose chains are asked), h3:22 is where h2 connects onward.
# Checks are on h2 alone (tests/lib/chainorigins.py): the exact set of origins
# (h1/h4 by name — h2's collector follows the conn leaf to the far host's
# collector — or by the leaf's remote IP if the far host did not answer), the exact path(s) from the subject to each (executables and via
# kinds), and h2's processes of each origin's chain.
CS_H1=10.231.0.1 CS_H2=10.231.0.2 CS_H3=10.231.0.3 CS_H4=10.231.0.4

cs_setup() {
	tb_switch
	for _h in 1 2 3 4; do
		tb_host h$_h 10.231.0.$_h fd00:231::$_h
		tb_sshd h$_h
		tb_collector h$_h
	done
	tb_preload on
}

# cs_who PID TAG WANT... : `hoptrace who` on h2 for PID's live connection to
# h3:22; WANT = IP=PATH_REGEX[=H2PROCS] (chainorigins.py --want)
cs_who() {
	_p=$1 _t=$2; shift 2
	_lr=$(ct_onward "$_p")
	[ -n "$_lr" ] || { echo "pid $_p has no connection to $CS_H3:22"; tb_exec h2 ss -tnp; return 1; }
	_j=$TB_T/$_t.who.json
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$_j" || { cat "$_j"; echo "hoptrace who $_lr failed"; return 1; }
	_cs_check "$_j" --dst "$CS_H3:22" "$@"
}

# cs_chain PID TAG WANT... : the same for `hoptrace chain PID`
cs_chain() {
	_p=$1 _t=$2; shift 2
	_j=$TB_T/$_t.chain.json
	tb_exec h2 "$TB_HOPTRACE" chain "$_p" --json >"$_j" || { cat "$_j"; echo "hoptrace chain $_p failed"; return 1; }
	_cs_check "$_j" "$@"
}

_cs_check() {
	_j=$1; shift
	for _w; do   # the list is expanded once: append the rewritten words, drop the old
		case $_w in *=*) set -- "$@" --want "$_w" ;; *) set -- "$@" "$_w" ;; esac
		shift
	done
	"$TB_PY" "$TB_LIB/chainorigins.py" "$_j" --name "h1=$CS_H1" --name "h4=$CS_H4" --name "h3=$CS_H3" "$@"
}

# cs_re TOKENS : a path regex from a readable form: dots are literal
cs_re() { echo "$1" | sed 's/\./\\./g'; }
