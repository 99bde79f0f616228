/*
 * fuzz_acl.c — libFuzzer target for the access-list parser (acl_load_buf) and,
 * when the input parses, a decision on a few fixed chains.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hoptrace/acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acl *a = NULL;
	struct acl_error errs[4];
	size_t n = 0;
	if (acl_load_buf("fuzz.acl", (const char *)data, size, &a, errs, 4, &n) != 0) {
		if (n == 0)
			abort(); /* a failure always reports at least one error */
		return 0;
	}
	static struct ht_chain_proc procs[3] = {
		{.exe = "/usr/bin/ssh"},
		{.exe = "/usr/sbin/sshd", .sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{.exe = "", .kernel_only = 1},
	};
	struct ht_chain c[2];
	memset(c, 0, sizeof c);
	c[0].src.family = AF_INET;
	memcpy(c[0].src.addr, "\x0a\x00\x00\x01", 4);
	c[0].src.port = 40000;
	c[0].dst.family = AF_INET6;
	c[0].dst.addr[15] = 1;
	c[0].dst.port = 22;
	c[0].complete = 1;
	c[0].nprocs = 3;
	c[0].procs = procs;
	c[1] = c[0];
	c[1].complete = 0;
	c[1].fallback = 1;
	c[1].src.family = 0;
	struct ht_chainset cs = {.n = 2, .v = c};
	struct acl_result res;
	enum acl_verdict v = acl_decide(a, &cs, &res);
	if (v != ACL_ACCEPT && v != ACL_REJECT && v != ACL_DROP)
		abort();
	if (res.verdict != v || (res.why == ACL_WHY_RULE) != (v == ACL_ACCEPT && res.rule[0] != 0))
		abort();
	cs.n = 1;
	(void)acl_decide(a, &cs, &res);
	acl_free(a);
	return 0;
}
