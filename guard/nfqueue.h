/*
 * nfqueue.h — the guard's NFQUEUE: one netlink socket bound to the queue
 * (libmnl + libnetfilter_queue's nlmsg API). Every worker blocks in recv()
 * on the same socket: the kernel hands each queued packet to exactly one of
 * them. Verdicts are single sendto()s on that socket, safe from any thread.
 * Accept = NF_REPEAT with the packet's mark | mark_judged (the packet walks
 * OUTPUT again, our chain RETURNs on the judged bit, and every other rule
 * still applies); reject = NF_REPEAT with judged | reject, which the REJECT
 * rule in our chain turns into a TCP reset; drop = NF_DROP.
 */
#ifndef HOPTRACE_GUARD_NFQUEUE_H
#define HOPTRACE_GUARD_NFQUEUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "gconf.h"

/* Bytes of each queued packet the kernel copies to us: the longest header
 * chain the kernel builds for a TCP socket, so that every SYN's headers are
 * whole in the copy (its payload, TCP Fast Open data, need not be: the parser
 * reads headers only and judges lengths against NFQA_CAP_LEN).
 *   IPv4: 60 (IHL 15: 40 bytes of IP_OPTIONS) + 60 (TCP doff 15) = 120.
 *   IPv6: 40 + the four sticky extension headers a socket can carry, each at
 *   most (255 + 1) * 8 = 2048 bytes: hop-by-hop, destination options before
 *   the routing header, the routing header, destination options (IPV6_HOPOPTS,
 *   IPV6_RTHDRDSTOPTS, IPV6_RTHDR, IPV6_DSTOPTS) + 60 (TCP) = 8292. Only
 *   IPV6_RTHDR (type 4, segment routing; type 2 needs CONFIG_IPV6_MIP6) is
 *   settable without CAP_NET_RAW: 40 + 2048 + 60 = 2148 for any user.
 * The kernel copies min(COPY_RANGE, packet length): an ordinary SYN (~60-80
 * bytes) costs no more than before. A longer chain (a raw socket's, root
 * only) is "unparsable: truncated headers" and gets on_unparsable. */
#define NFQUEUE_COPY_RANGE 8320
#define NFQUEUE_RECV_MAX (NFQUEUE_COPY_RANGE + 4096) /* a worker's receive buffer */

struct mnl_socket;

struct nfqueue {
	struct mnl_socket *nl;
	unsigned portid;
	int bound;                /* the queue is ours: unbind on close */
	unsigned num;             /* queue_num */
	uint32_t mark_judged, mark_reject;
	atomic_ulong n_accept, n_reject, n_drop, n_verdict_err;
};

/* One queued packet as a worker receives it. */
struct nfqueue_pkt {
	uint16_t queue;
	uint32_t id, mark;
	int outdev;               /* ifindex, 0 unknown */
	const uint8_t *data;      /* the copy (up to NFQUEUE_COPY_RANGE bytes) */
	size_t len;               /* its length */
	size_t pktlen;            /* the packet's real length (NFQA_CAP_LEN) */
};

/* Binds queue c->queue_num and configures it (copy range, queue length, no
 * fail-open, receive buffer, 200 ms receive timeout). 0, or -1 (logged; the
 * caller nfqueue_close()s). */
int nfqueue_open(struct nfqueue *q, const struct guard_conf *c);
/* Unbinds (when bound) and closes; accepts a zeroed struct. */
void nfqueue_close(struct nfqueue *q);
int nfqueue_fd(const struct nfqueue *q);
/* Calls fn for every packet in one received buffer. */
void nfqueue_dispatch(struct nfqueue *q, const void *buf, size_t n,
		      void (*fn)(const struct nfqueue_pkt *pk, void *arg), void *arg);
/* Sets the verdict (enum acl_verdict action) of pk; counted, retried on
 * ENOBUFS/EAGAIN/EINTR, logged when it cannot be sent. */
void nfqueue_verdict(struct nfqueue *q, const struct nfqueue_pkt *pk, int action);
/* The kernel's queue_dropped and queue_user_dropped for our queue and port
 * (/proc/net/netfilter/nfnetlink_queue of this thread's network namespace):
 * 0, or -1 when the queue is not listed. */
int nfqueue_counters(const struct nfqueue *q, unsigned long *dropped, unsigned long *user_dropped,
		     unsigned long *total);

#endif
