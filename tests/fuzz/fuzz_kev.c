/*
 * fuzz_kev.c — libFuzzer target for the kernel event source's ring buffer
 * records (collector/kev_decode.c): one input is one record as the ring hands
 * it over, of any size. An accepted record must satisfy what the collector
 * relies on (a known type, a pid in range, a NUL-terminated filename inside
 * its buffer, an exit's descriptors each of a known kind inside the array), must render as JSON, and must go through kev_take's counting
 * and recent ring. The first byte picks whether the input is also cut into
 * pieces (every prefix of a well-formed record is refused).
 */
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../collector/bpf/kev_event.h"
#include "../../collector/kev.h"

static struct kev k;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kev_ev e;
	if (!k.recent)
		k.recent = calloc(KEV_RECENT, sizeof(*k.recent));
	if (size < 1)
		return 0;
	int cut = data[0] & 1;
	data++, size--;
	if (kev_decode(data, size, &e) == 0) {
		if (e.type < 1 || e.type >= KEV_TYPES || e.tgid <= 0 || e.tgid > 4194304)
			abort();
		if (e.type != KEV_FDS && !memchr(e.filename, '\0', sizeof(e.filename)))
			abort();
		if (e.type == KEV_FDS) { /* entries inside the array, each a known kind */
			if (e.nfds > KEV_FDS_MAX || (!e.nfds && !e.more_fds))
				abort();
			for (unsigned i = 0; i < e.nfds; i++)
				if (e.fds[i].kind < KEV_FD_PIPE || e.fds[i].kind > KEV_FD_TCP ||
				    (e.fds[i].kind == KEV_FD_TCP && e.fds_why != KEV_FDS_RECV) ||
				    e.fds[i].fd < 0 || !e.fds[i].ino)
					abort();
		}
		if (e.type == KEV_FORK && e.ptgid <= 0)
			abort();
		if (e.type == KEV_ACCEPT && e.fd < 0)
			abort();
		if (e.type == KEV_UNIXPEER && (!e.ino || !e.peer || e.ino == e.peer))
			abort();
		if (e.type == KEV_SOCKUSE && e.family != 2 && e.family != 10)
			abort();
		if (e.type == KEV_TCP && e.released > 1)
			abort();
		cJSON *j = kev_ev_json(&e);
		char *s = cJSON_PrintUnformatted(j);
		if (!s)
			abort();
		free(s);
		cJSON_Delete(j);
		if (cut) /* no prefix of a record is a record */
			for (size_t n = 0; n < size; n++)
				if (kev_decode(data, n, &e) == 0)
					abort();
	}
	uint64_t before = k.events + k.malformed;
	kev_take(&k, data, size);
	if (k.events + k.malformed != before + 1)
		abort();
	if (k.recent_n % 512 == 0) {
		cJSON *d = kev_dump(&k);
		cJSON_Delete(d);
	}
	return 0;
}
