/*
 * kev.h — the collector's kernel event source (kev.c; the programs in
 * bpf/kev.bpf.c; docs/collector.md "Kernel events"). Process lifecycle and
 * TCP connect/accept as the kernel sees them, for the collector's own network
 * namespace only, through one bounded ring buffer per collector.
 *
 * Built without clang, bpftool, libbpf or the build machine's BTF, kev.c is a
 * stub whose kev_open() says why it is unavailable; the rest of the collector
 * works as without the source.
 */
#ifndef HT_KEV_H
#define HT_KEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define KEV_MODE_AUTO 0
#define KEV_MODE_ON 1
#define KEV_MODE_OFF 2

#define KEV_STATE_OFF 0          /* kernel_events = off */
#define KEV_STATE_ON 1           /* loaded and attached */
#define KEV_STATE_UNAVAILABLE 2  /* could not be loaded: why */

#define KEV_RING_KB_DEFAULT 4096
#define KEV_RING_KB_MIN 4        /* one page */
#define KEV_RING_KB_MAX 65536    /* 64 MiB */
#define KEV_RECENT 4096          /* decoded events kept for kev-dump */

/* KEV_FDS: one descriptor an ending process held */
struct kev_fdent {
	uint64_t ino, peer;     /* peer: a unix socket's connected peer (0 none) */
	uint32_t dev;           /* pipes, FIFOs: as stat's st_dev; sockets 0 */
	int fd;
	uint8_t kind, ends;     /* KEV_FD_PIPE/FIFO/UNIX; KEV_FD_END_R|W */
};

/* One ring buffer record, decoded and checked (kev_decode). */
struct kev_ev {
	uint32_t type;          /* KEV_FORK .. KEV_FDS (bpf/kev_event.h) */
	pid_t tgid;
	uint64_t t_ns;          /* CLOCK_MONOTONIC */
	pid_t ptgid;            /* FORK: the creator */
	uint64_t start_ns;      /* FORK: the child's start, ns since boot */
	uint64_t pid_ino;       /* FORK: the child's pidfs inode number (0: none) */
	uint64_t ino;           /* EXEC: the executable's; TCP/ACCEPT/UNIXPEER: the socket's */
	uint64_t peer;          /* UNIXPEER: its peer's inode */
	dev_t dev;              /* EXEC: the executable's device (as stat's st_dev) */
	int fd;                 /* ACCEPT: the new descriptor */
	int family;             /* TCP/ACCEPT: AF_INET, AF_INET6 (0 unknown) */
	uint16_t sport, dport;
	uint8_t oldstate, newstate;
	uint8_t released;       /* TCP: in its owner's close() (KEV_SOCK_RELEASED) */
	uint8_t saddr[16], daddr[16];
	uint8_t nfds, more_fds; /* FDS: entries in fds; more: it held more than those */
	uint32_t uid;           /* FDS, FORK: the process's real uid; TCP: the socket's
				 * owner; ACCEPT: the caller's real uid */
	uint32_t fds_why;       /* FDS: KEV_FDS_EXIT or KEV_FDS_FORK */
	union {
		char filename[256];     /* EXEC; NUL-terminated */
		struct kev_fdent fds[32]; /* FDS (KEV_FDS_MAX) */
	};
};

/* Decodes one ring buffer record of n bytes: 0, or -1 when it is not a
 * whole, well-formed record (wrong type, size or length). Never reads past n. */
int kev_decode(const void *data, size_t n, struct kev_ev *out);
const char *kev_type_name(uint32_t type);
/* one event as a JSON object (kev-dump) */
cJSON *kev_ev_json(const struct kev_ev *e);

struct kev {
	int mode, state;
	char why[256];          /* KEV_STATE_UNAVAILABLE / OFF: the reason */
	char accept_why[160];   /* on, but no accept events: why ("" when they are on) */
	int sockets;            /* the socket tracepoints (passed descriptors, io_uring) loaded */
	unsigned ring_kb;
	int fd;                 /* the ring's epoll fd, -1 when not on */
	uint64_t seen[16];      /* events by type (index KEV_*, < KEV_TYPES) */
	uint64_t events, malformed;
	struct kev_ev *recent;  /* KEV_RECENT, a ring, for kev-dump */
	unsigned recent_next;
	uint64_t recent_n;
	void *impl;             /* kev.c's libbpf state */
	/* each decoded event, as it is read (NULL: none) */
	void (*on_event)(void *arg, const struct kev_ev *e);
	void *arg;
	/* the kernel descriptor search beside it (kiter.h; NULL: /proc's,
	 * iter_why says why) */
	struct kiter *iter;
	char iter_why[256];
};

/* Loads and attaches the programs for the network namespace netns_ino
 * (mode KEV_MODE_OFF: nothing; accept 0: no accept events; sockets 0: not
 * the socket tracepoints' programs). 0 when on or off; -1 when it could not be
 * loaded, with k->why saying why (k->state KEV_STATE_UNAVAILABLE). */
int kev_open(struct kev *k, int mode, unsigned ring_kb, uint64_t netns_ino, int accept, int sockets);
/* The collector's own pid (after daemon()): the programs skip its receives'
 * fd tables (kev.bpf.c self_tgid) */
void kev_self(struct kev *k, pid_t pid);
/* Reads what the ring holds now; returns how many events. */
int kev_consume(struct kev *k);
void kev_close(struct kev *k);
/* records the programs found no room for that no uid's loss is (root's, no
 * one's): everyone's */
uint64_t kev_lost(const struct kev *k);
/* records that found the ring full, a uid's (counted in uid_lost) or not */
uint64_t kev_ring_full(const struct kev *k);
/* The rationed events (a receive's fd table, a socket use: kev.bpf.c
 * uid_take) not written, per uid: fn for each uid whose count grew since the
 * last call; -1 when the sum grew and no uid's count did (an evicted entry:
 * anyone's), else how many uids. kev_uid_lost_sum: every uid's, so far. */
#define KEV_UID_SEEN 4096
int kev_uid_lost(struct kev *k, void (*fn)(void *ctx, uint32_t uid), void *ctx);
uint64_t kev_uid_lost_sum(const struct kev *k);
/* 1: the last kev_consume left nothing reserved in the ring and no event was
 * ever lost — every event written before now has been read (kev.c) */
int kev_caught_up(struct kev *k);
const char *kev_state_name(int state);
/* one ring buffer record: decoded, counted, kept for kev-dump, handed to on_event */
void kev_take(struct kev *k, const void *data, size_t n);
/* "kernel_events" in hoptrace status */
void kev_status(const struct kev *k, cJSON *a);
/* the recent events, oldest first, as {"ok":true,"events":[...]} */
cJSON *kev_dump(const struct kev *k);

#endif
