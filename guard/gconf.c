/*
 * gconf.c — implements gconf.h over ini_parse().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/ini.h"
#include "gconf.h"

void guard_conf_defaults(struct guard_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->queue_num = 0;
	c->fail_open = 1;
	c->monitor = 0;
	snprintf(c->policy, sizeof(c->policy), "/etc/hoptrace/policy.acl");
	c->policy_timeout_ms = 1000;
	c->on_policy_error = ACL_REJECT;
	c->on_collector_error = ACL_REJECT;
	c->on_incomplete = -1;
	c->on_unparsable = ACL_REJECT;
	c->queue_maxlen = 16384;
	c->judge_local = 0;
	c->prejudge = 1;
	snprintf(c->audit_log, sizeof(c->audit_log), "/var/log/hoptrace/audit.log");
	c->exempt_mark = 0x20000000;
	c->mark_judged = 0x40000000;
	c->mark_reject = 0x80000000;
	c->workers = 4;
	c->collector_timeout_ms = 1000;
	c->cache_ttl_ms = 30000;
	snprintf(c->chain, sizeof(c->chain), "HOPT_OUT");
}

static int copy_str(char *dst, size_t n, const char *v, char *err, size_t errlen)
{
	if (strlen(v) >= n) {
		snprintf(err, errlen, "value too long (max %zu bytes)", n - 1);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int parse_verdict(const char *v, int allow_policy, int *out, char *err, size_t errlen)
{
	if (allow_policy && strcmp(v, "policy") == 0) {
		*out = -1;
		return 0;
	}
	if (!strcmp(v, "accept"))
		*out = ACL_ACCEPT;
	else if (!strcmp(v, "reject"))
		*out = ACL_REJECT;
	else if (!strcmp(v, "drop"))
		*out = ACL_DROP;
	else {
		snprintf(err, errlen, "expected accept, reject or drop%s, not \"%s\"",
			 allow_policy ? " or policy" : "", v);
		return -1;
	}
	return 0;
}

static int parse_mark(const char *v, uint32_t *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 0);
	if (errno || end == v || *end || x > 0xffffffffULL || v[0] == '-') {
		snprintf(err, errlen, "expected a 32-bit mark (e.g. 0x20000000), not \"%s\"", v);
		return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

static int cb(void *ctx, const char *section, const char *key, const char *v, char *err,
	      size_t errlen)
{
	struct guard_conf *c = ctx;
	unsigned long long u;
	int b;

	if (strcmp(section, "guard") != 0)
		return 0;
	if (!strcmp(key, "queue_num")) {
		if (ini_uint(v, 65535, &u, err, errlen))
			return -1;
		c->queue_num = (unsigned)u;
	} else if (!strcmp(key, "fail_open")) {
		if (ini_bool(v, &c->fail_open, err, errlen))
			return -1;
	} else if (!strcmp(key, "monitor")) {
		if (ini_bool(v, &c->monitor, err, errlen))
			return -1;
	} else if (!strcmp(key, "judge_local")) {
		if (ini_bool(v, &c->judge_local, err, errlen))
			return -1;
	} else if (!strcmp(key, "prejudge")) {
		if (ini_bool(v, &c->prejudge, err, errlen))
			return -1;
	} else if (!strcmp(key, "policy")) {
		return copy_str(c->policy, sizeof(c->policy), v, err, errlen);
	} else if (!strcmp(key, "policy_url")) {
		if (v[0] && strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
			snprintf(err, errlen, "policy_url must start with http:// or https://");
			return -1;
		}
		return copy_str(c->policy_url, sizeof(c->policy_url), v, err, errlen);
	} else if (!strcmp(key, "policy_secret")) {
		snprintf(err, errlen, "policy_secret: the shared secret is gone: the guard presents "
				      "this host's [fleet] certificate to the policy server (docs/fleet.md)");
		return -1;
	} else if (!strcmp(key, "policy_timeout_ms")) {
		if (ini_uint(v, 600000, &u, err, errlen))
			return -1;
		c->policy_timeout_ms = (unsigned long)u;
	} else if (!strcmp(key, "collector_timeout_ms")) {
		if (ini_uint(v, 600000, &u, err, errlen))
			return -1;
		if (u == 0) {
			snprintf(err, errlen, "collector_timeout_ms must be at least 1");
			return -1;
		}
		c->collector_timeout_ms = (unsigned long)u;
	} else if (!strcmp(key, "cache_ttl")) {
		if (ini_duration_ms(v, &u, err, errlen))
			return -1;
		c->cache_ttl_ms = (unsigned long)u;
	} else if (!strcmp(key, "on_policy_error")) {
		if (parse_verdict(v, 0, &b, err, errlen))
			return -1;
		c->on_policy_error = (enum acl_verdict)b;
	} else if (!strcmp(key, "on_collector_error")) {
		if (parse_verdict(v, 0, &b, err, errlen))
			return -1;
		c->on_collector_error = (enum acl_verdict)b;
	} else if (!strcmp(key, "on_unparsable")) {
		if (parse_verdict(v, 0, &b, err, errlen))
			return -1;
		c->on_unparsable = (enum acl_verdict)b;
	} else if (!strcmp(key, "queue_maxlen")) {
		if (ini_uint(v, 1u << 20, &u, err, errlen))
			return -1;
		if (u < 16) {
			snprintf(err, errlen, "queue_maxlen must be at least 16");
			return -1;
		}
		c->queue_maxlen = (unsigned)u;
	} else if (!strcmp(key, "on_incomplete")) {
		if (parse_verdict(v, 1, &c->on_incomplete, err, errlen))
			return -1;
	} else if (!strcmp(key, "audit_syslog")) {
		/* yes = the system's /dev/log; an absolute path = that socket */
		int on;
		if (v[0] == '/')
			return copy_str(c->audit_syslog, sizeof(c->audit_syslog), v, err, errlen);
		if (ini_bool(v, &on, err, errlen))
			return -1;
		snprintf(c->audit_syslog, sizeof(c->audit_syslog), "%s", on ? "/dev/log" : "");
		return 0;
	} else if (!strcmp(key, "audit_log")) {
		return copy_str(c->audit_log, sizeof(c->audit_log), v, err, errlen);
	} else if (!strcmp(key, "exempt_mark")) {
		return parse_mark(v, &c->exempt_mark, err, errlen);
	} else if (!strcmp(key, "mark_judged")) {
		return parse_mark(v, &c->mark_judged, err, errlen);
	} else if (!strcmp(key, "mark_reject")) {
		return parse_mark(v, &c->mark_reject, err, errlen);
	} else if (!strcmp(key, "workers")) {
		if (ini_uint(v, 256, &u, err, errlen))
			return -1;
		if (u == 0) {
			snprintf(err, errlen, "workers must be at least 1");
			return -1;
		}
		c->workers = (unsigned)u;
	} else if (!strcmp(key, "chain")) {
		size_t n = strlen(v);
		if (n == 0 || n > 28 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
			snprintf(err, errlen, "chain: 1 to 28 letters, digits, '_' or '-'");
			return -1;
		}
		memcpy(c->chain, v, n + 1);
	} else {
		snprintf(err, errlen, "unknown key \"%s\" in [guard]", key);
		return -1;
	}
	return 0;
}

int guard_conf_load(const char *path, struct guard_conf *c, char *err, size_t errlen)
{
	if (ini_parse(path, cb, c, err, errlen))
		return -1;
	uint32_t m[3] = {c->exempt_mark, c->mark_judged, c->mark_reject};
	const char *nm[3] = {"exempt_mark", "mark_judged", "mark_reject"};
	for (int i = 0; i < 3; i++) {
		if (!m[i]) {
			snprintf(err, errlen, "%s: %s must not be 0", path, nm[i]);
			return -1;
		}
		for (int j = i + 1; j < 3; j++)
			if (m[i] & m[j]) {
				snprintf(err, errlen, "%s: %s and %s share bits", path, nm[i], nm[j]);
				return -1;
			}
	}
	if (!c->policy_url[0] && !c->policy[0]) {
		snprintf(err, errlen, "%s: [guard] needs policy or policy_url", path);
		return -1;
	}
	return 0;
}
