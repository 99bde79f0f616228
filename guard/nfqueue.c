/*
 * nfqueue.c — implements nfqueue.h with libmnl + libnetfilter_queue's
 * nlmsg API.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "hoptrace/acl.h"
#include "hoptrace/log.h"
#include "nfqueue.h"

#define RCVBUF_PER_SYN 1280 /* receive buffer per queued SYN: 832 bytes measured (IPv4, no data), with room */

static int send_cfg(struct nfqueue *q, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, q->portid, NULL, NULL) < 0 ? -1 : 0;
}

int nfqueue_open(struct nfqueue *q, const struct guard_conf *c)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	q->num = c->queue_num;
	q->mark_judged = c->mark_judged;
	q->mark_reject = c->mark_reject;

	q->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!q->nl) {
		log_warn("netlink socket");
		return -1;
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		log_warn("netlink bind");
		return -1;
	}
	q->portid = mnl_socket_get_portid(q->nl);

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (send_cfg(q, nlh)) {
		log_warn("cannot bind NFQUEUE %u (another program holds it?)", q->num);
		return -1;
	}
	q->bound = 1;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, NFQUEUE_COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, c->queue_maxlen);
	/* Never NFQA_CFG_F_FAIL_OPEN: with it the kernel ACCEPTS a packet when
	 * the queue is full or cannot be delivered to us — a flood (or a
	 * stalled collector) would let SYNs pass unjudged. Without it they are
	 * dropped and counted (queue_dropped, queue_user_dropped), and TCP
	 * sends the SYN again (1 s, 3 s, ...) to be judged then. fail_open
	 * means --queue-bypass only: no guard bound at all (rules.c). */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	if (send_cfg(q, nlh)) {
		log_warn("cannot configure NFQUEUE %u", q->num);
		return -1;
	}
	/* The receive buffer holds a full queue of ordinary SYNs (a queued
	 * SYN costs ~RCVBUF_PER_SYN bytes of it, measured), so the queue's
	 * length, not the buffer, is what runs out first; ENOBUFS is reported
	 * (no NETLINK_NO_ENOBUFS) and counted. Larger SYNs (data) fill it
	 * sooner: dropped, counted, sent again. */
	int fd = mnl_socket_get_fd(q->nl);
	unsigned long want = (unsigned long)c->queue_maxlen * RCVBUF_PER_SYN;
	int rb = want < (2UL << 20) ? 2 << 20 : want > (256UL << 20) ? 256 << 20 : (int)want;
	/* the kernel doubles what it is given */
	rb /= 2;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

void nfqueue_close(struct nfqueue *q)
{
	if (!q->nl)
		return;
	if (q->bound) {
		char buf[MNL_SOCKET_BUFFER_SIZE];
		struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
		nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
		mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len);
	}
	mnl_socket_close(q->nl);
	q->nl = NULL;
}

int nfqueue_fd(const struct nfqueue *q) { return mnl_socket_get_fd(q->nl); }

void nfqueue_verdict(struct nfqueue *q, const struct nfqueue_pkt *pk, int action)
{
	char buf[256];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, pk->queue);
	switch (action) {
	case ACL_ACCEPT:
		nfq_nlmsg_verdict_put(nlh, (int)pk->id, NF_REPEAT);
		nfq_nlmsg_verdict_put_mark(nlh, pk->mark | q->mark_judged);
		atomic_fetch_add(&q->n_accept, 1);
		break;
	case ACL_REJECT:
		nfq_nlmsg_verdict_put(nlh, (int)pk->id, NF_REPEAT);
		nfq_nlmsg_verdict_put_mark(nlh, pk->mark | q->mark_judged | q->mark_reject);
		atomic_fetch_add(&q->n_reject, 1);
		break;
	default:
		nfq_nlmsg_verdict_put(nlh, (int)pk->id, NF_DROP);
		atomic_fetch_add(&q->n_drop, 1);
		break;
	}
	for (int i = 0; i < 3; i++) {
		if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) >= 0)
			return;
		if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN)
			break;
	}
	atomic_fetch_add(&q->n_verdict_err, 1);
	log_warn("verdict for packet %u not sent", pk->id);
}

struct dispatch {
	void (*fn)(const struct nfqueue_pkt *pk, void *arg);
	void *arg;
};

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct dispatch *d = data;
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	if (nfq_nlmsg_parse(nlh, attr) < 0)
		return MNL_CB_OK;
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	if (!attr[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	struct nfqueue_pkt pk = {.queue = ntohs(nfg->res_id), .id = ntohl(ph->packet_id)};
	pk.mark = attr[NFQA_MARK] ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;
	pk.outdev = attr[NFQA_IFINDEX_OUTDEV] ? (int)ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV])) : 0;
	pk.data = attr[NFQA_PAYLOAD] ? mnl_attr_get_payload(attr[NFQA_PAYLOAD]) : NULL;
	pk.len = attr[NFQA_PAYLOAD] ? mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]) : 0;
	/* the packet's real length when the copy is shorter (COPY_RANGE) */
	pk.pktlen = pk.len;
	if (attr[NFQA_CAP_LEN] && mnl_attr_get_payload_len(attr[NFQA_CAP_LEN]) == 4)
		pk.pktlen = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	d->fn(&pk, d->arg);
	return MNL_CB_OK;
}

void nfqueue_dispatch(struct nfqueue *q, const void *buf, size_t n,
		      void (*fn)(const struct nfqueue_pkt *pk, void *arg), void *arg)
{
	struct dispatch d = {fn, arg};
	mnl_cb_run(buf, n, 0, q->portid, on_msg, &d);
}

int nfqueue_counters(const struct nfqueue *q, unsigned long *dropped, unsigned long *user_dropped,
		     unsigned long *total)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	if (!f)
		return -1;
	char line[256];
	int rc = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned qn, portid, tot, mode, range;
		unsigned long d, u;
		if (sscanf(line, "%u %u %u %u %u %lu %lu", &qn, &portid, &tot, &mode, &range, &d, &u) == 7 &&
		    qn == q->num && portid == q->portid) {
			*dropped = d, *user_dropped = u, *total = tot;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}
