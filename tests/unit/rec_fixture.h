/*
 * rec_fixture.h — a blank record for tests and benchmarks that build graphs
 * from records by hand (no fds: fd and fd2 are -1).
 */
#ifndef HT_TEST_REC_FIXTURE_H
#define HT_TEST_REC_FIXTURE_H

#include <string.h>
#include "hoptrace/record.h"

static inline struct ht_record rec_blank(int type, uint64_t ts)
{
	struct ht_record r;
	memset(&r, 0, sizeof(r));
	r.type = (uint8_t)type;
	r.ts = ts;
	r.fd = r.fd2 = -1;
	return r;
}

#endif
