#!/bin/sh
# attack_review10_hold_budget — review of issue 10, shown at the graph level
# (tests/unit/claims_test.c's fake kernel), NOT end to end: filling a uid's
# 262,144 holds for real needs that many live channels (pipes cost ~2 KiB of
# kernel memory each; ended processes' holds did not stay — tried). The
# bound per uid (max_holds_per_uid, docs/chain-model.md "Bounds") refuses a
# new hold once the uid's account is full — graph_hold.c hold_open() returns
# NULL, over_bound() counts — and nothing marks anything incomplete: the
# uid's next chain is walked on a graph that lacks the refused hold. Here
# (bound lowered to 150 as test_bounds does): nobody fills its account from
# process 31, then its process 30 accepts a connection from 10.0.0.1 (the
# ACCEPT is refused: -EDQUOT) and connects out: the chain's origin is "h2"
# (this host), complete, where it must be 10.0.0.1 or incomplete.
# Builds a copy of claims_test.c with this one test (needs `make` first).
# Prints FAIL-CASE and exits 1 while the bound drops the origin.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ -f build/libcollector.a ] || { echo "SKIP: build first (make)"; exit 77; }
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
grep -v '^T_MAIN("claims"' tests/unit/claims_test.c | grep -v '^       T(test_kernel_lineage)' >"$d/t.c"
cat >>"$d/t.c" <<'EOC'
static void scene_budget(int nfill)
{
	struct graph_conf c = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC, .max_procs = 1000,
			       .use_procfs = 0, .kernel_fd = fake_fd, .kernel_proc = fake_proc,
			       .max_fds_per_proc = 1000, .max_holds_per_uid = 150,
			       .max_chans_per_uid = 1000000};
	kreset();
	struct graph *g = graph_new(&c);
	kproc_set(29, 1, 29, 29, 150);
	ok(g, 29, 65534, image_rec(1, "/usr/bin/dash", 4));
	kproc_set(30, 29, 29, 29, 200);
	ok(g, 30, 65534, image_rec(29, "/usr/bin/python3", 5));
	/* the filler: nobody's process 31, 150 real pipes (the kernel shows them) */
	kproc_set(31, 1, 31, 31, 210);
	ok(g, 31, 65534, image_rec(1, "/usr/bin/python3", 6));
	int refused = 0;
	for (int i = 0; i < nfill; i++) {
		kfd_set(31, 3 + i, HT_CHAN_PIPE, 1, 100 + (uint64_t)i);
		refused += apply(g, 31, 65534,
				 fd_rec(HT_REC_OPEN, 3 + i, (struct ht_chan){HT_CHAN_PIPE, 1, 100 + (uint64_t)i},
					7 + (uint64_t)i)) == -EDQUOT;
	}
	fprintf(stderr, "    filler: %d OPENs refused over the bound\n", refused);
	/* the attack: B's connection accepted (refused: over the bound) */
	kfd_set(30, 8, HT_CHAN_SOCK, 0, 9000);
	int rc = apply(g, 30, 65534, accept_rec(8, 9000, "10.0.0.1", 200));
	fprintf(stderr, "    ACCEPT from 10.0.0.1: rc %d (%s)\n", rc, rc == -EDQUOT ? "EDQUOT" : "");
	kfd_set(30, 6, HT_CHAN_SOCK, 0, 7777);
	apply(g, 30, 65534, connect_rec(6, 7777, "10.0.0.3", 201));
	char o[256];
	origins(g, 30, 7777, 300, o, sizeof(o));
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, 30),
				.exclude = graph_chan(g, HT_CHAN_SOCK, 0, 7777), .now = 300, .nl = -1};
	cJSON *a = chain_compute(g, &req), *ch;
	int complete = 0;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItem(a, "chains"))
		complete += cJSON_IsTrue(cJSON_GetObjectItem(ch, "complete"));
	cJSON_Delete(a);
	fprintf(stderr, "    chain of the connect: origins \"%s\", %d complete\n", o, complete);
	if (!nfill)
		CHECK_EQ_STR(o, "10.0.0.1"); /* control: with room, the origin is there */
	else if (!strcmp(o, "h2") && complete)
		fprintf(stderr, "FAIL-CASE: over the hold bound, the origin 10.0.0.1 is dropped "
				"and the chain is complete from this host\n");
	CHECK(!(!strcmp(o, "h2") && complete));
	graph_free(g);
}
static void test_control(void) { scene_budget(0); }
static void test_hold_budget_drops_origin(void) { scene_budget(160); }
T_MAIN("hold_budget", T(test_control), T(test_hold_budget_drops_origin))
EOC
cc -O2 -g -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-unused-function -D_GNU_SOURCE \
	-Iinclude -Itests/unit -o "$d/t" "$d/t.c" build/libcli.a build/libguard.a build/libcollector.a \
	build/libpolicy.a build/libcommon.a -lnetfilter_queue -lmnl -lnng -lcurl -lcjson -lpthread \
	-lmbedtls -lmbedx509 -lmbedcrypto -lssl -lcrypto
"$d/t"
