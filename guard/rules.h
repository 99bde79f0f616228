/*
 * rules.h — hopguard's own netfilter rules (iptables-nft, IPv4 and IPv6),
 * installed by running iptables/ip6tables with an argv (no shell):
 *
 *   OUTPUT:   -p tcp --syn -j CHAIN                      (inserted first)
 *   CHAIN:    -m mark --mark EXEMPT/EXEMPT -j RETURN     our own traffic
 *             -p tcp -m mark --mark REJECT/REJECT -j REJECT --reject-with tcp-reset
 *             -m mark --mark JUDGED/JUDGED -j RETURN
 *             -j NFQUEUE --queue-num N --queue-bypass
 *             [-p tcp -j REJECT --reject-with tcp-reset]  fail-closed only: reached
 *                                                         when no guard is bound
 * Removal deletes exactly the jump(s) to CHAIN, then flushes and deletes CHAIN;
 * nothing else is touched. Both are idempotent.
 */
#ifndef HOPTRACE_GUARD_RULES_H
#define HOPTRACE_GUARD_RULES_H

#include <stdint.h>

struct guard_rules {
	const char *chain;
	unsigned queue_num;
	int fail_open;
	uint32_t exempt_mark, mark_judged, mark_reject;
};

/* Removes leftovers, then installs. Returns 0, or -1 (logged; whatever was
 * installed is removed again). */
int rules_install(const struct guard_rules *r);
/* Returns 0 when nothing of ours is left. */
int rules_remove(const struct guard_rules *r);

#endif
