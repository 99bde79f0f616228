/*
 * gconf.h — hopguard's configuration: section [guard] of hoptrace.conf
 * (docs/config.md). Other sections are ignored.
 */
#ifndef HOPTRACE_GUARD_GCONF_H
#define HOPTRACE_GUARD_GCONF_H

#include <stddef.h>
#include <stdint.h>
#include "hoptrace/acl.h"

struct guard_conf {
	unsigned queue_num;            /* queue_num = 0 */
	int fail_open;                 /* fail_open = yes: --queue-bypass (no guard bound) only */
	int monitor;                   /* monitor = no */
	char policy[512];              /* policy = /etc/hoptrace/policy.acl */
	char policy_url[512];          /* policy_url = (empty: use policy) */
	unsigned long policy_timeout_ms; /* policy_timeout_ms = 1000 */
	enum acl_verdict on_policy_error;    /* reject */
	enum acl_verdict on_collector_error; /* reject */
	int on_incomplete;             /* -1 = "policy" (the ACL decides), else a verdict */
	enum acl_verdict on_unparsable;      /* reject: a SYN whose headers cannot be read */
	unsigned queue_maxlen;         /* queue_maxlen = 16384: SYNs the kernel holds for us */
	int judge_local;               /* judge_local = no */
	int prejudge;                  /* prejudge = yes: take chains the collector pushes */
	char audit_syslog[108];        /* audit_syslog = yes|no|SOCKET: each decision also to syslog (/dev/log) */
	char audit_log[512];           /* audit_log = /var/log/hoptrace/audit.log ("" = none) */
	uint32_t exempt_mark;          /* exempt_mark = 0x20000000 */
	uint32_t mark_judged;          /* mark_judged = 0x40000000 */
	uint32_t mark_reject;          /* mark_reject = 0x80000000 */
	unsigned workers;              /* workers = 4 */
	unsigned long collector_timeout_ms; /* collector_timeout_ms = 1000 */
	unsigned long cache_ttl_ms;    /* cache_ttl = 30s */
	char chain[29];                /* chain = HOPT_OUT */
};

void guard_conf_defaults(struct guard_conf *c);
/* Reads [guard] from path. Returns 0, or -1 with "FILE:LINE: reason" in err. */
int guard_conf_load(const char *path, struct guard_conf *c, char *err, size_t errlen);

#endif
