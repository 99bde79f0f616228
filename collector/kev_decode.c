/*
 * kev_decode.c — the kernel event source's record decoder (kev.h): ring
 * buffer records from bpf/kev.bpf.c checked and turned into struct kev_ev.
 * Built with or without BPF support (tests/fuzz/fuzz_kev.c drives it). The
 * records come from our own programs, but nothing read here is trusted: the
 * type, the whole record's size and the filename's length are checked before
 * any field is used.
 */
#include <arpa/inet.h>
#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include "bpf/kev_event.h"
#include "kev.h"
#include "kiter.h"

_Static_assert(sizeof(((struct kev_ev *)0)->filename) == KEV_PATH_MAX, "filename size");
_Static_assert(sizeof(((struct kev_ev *)0)->fds) / sizeof(struct kev_fdent) == KEV_FDS_MAX,
	       "fds size");

static const char *const names[KEV_TYPES] = {
	[KEV_FORK] = "fork", [KEV_EXEC] = "exec", [KEV_EXIT] = "exit",
	[KEV_TCP] = "tcp", [KEV_ACCEPT] = "accept", [KEV_FDS] = "fds",
	[KEV_SOCKUSE] = "sockuse", [KEV_UNIXPEER] = "unixpeer",
};

const char *kev_type_name(uint32_t type)
{
	return type > 0 && type < KEV_TYPES ? names[type] : "?";
}

static int sock_fields(const struct kev_sock *s, struct kev_ev *o)
{
	/* accept() of a unix socket: its family, no addresses */
	if (s->family != AF_INET && s->family != AF_INET6 && s->family != AF_UNIX && s->family != 0)
		return -1;
	o->ino = s->ino;
	o->fd = s->fd;
	o->family = s->family;
	o->sport = s->sport;
	o->dport = s->dport;
	o->oldstate = s->oldstate;
	o->newstate = s->newstate;
	o->uid = s->uid;
	if (s->flags & ~(__u32)KEV_SOCK_RELEASED)
		return -1;
	o->released = s->flags & KEV_SOCK_RELEASED ? 1 : 0;
	memcpy(o->saddr, s->saddr, sizeof(o->saddr));
	memcpy(o->daddr, s->daddr, sizeof(o->daddr));
	return 0;
}

/* KEV_FDS: n entries, exactly as many as the record's size says */
static int fds_fields(const void *data, size_t n, struct kev_ev *o)
{
	struct kev_fds f;
	size_t head = offsetof(struct kev_fds, fd);
	if (n < head || n > sizeof(f) || (n - head) % sizeof(f.fd[0]))
		return -1;
	memset(&f, 0, sizeof(f));
	memcpy(&f, data, n);
	if (f.n != (n - head) / sizeof(f.fd[0]) || f.n > KEV_FDS_MAX || f.more > 1 || (!f.n && !f.more))
		return -1;
	for (uint32_t i = 0; i < f.n; i++) {
		const struct kev_fd *d = &f.fd[i];
		int pipe = d->kind == KEV_FD_PIPE || d->kind == KEV_FD_FIFO;
		int tcp = d->kind == KEV_FD_TCP; /* (a receive's read only) */
		if ((!pipe && !tcp && d->kind != KEV_FD_UNIX) || (tcp && f.why != KEV_FDS_RECV) ||
		    d->fd < 0 || d->fd >= KEV_FDS_SCAN || d->ends > (KEV_FD_END_R | KEV_FD_END_W) ||
		    !d->ino || (!pipe && (d->dev || d->ends)) || ((pipe || tcp) && d->peer))
			return -1;
		struct kev_fdent *e = &o->fds[i];
		e->ino = d->ino;
		e->peer = d->peer;
		/* the kernel's dev_t (MAJOR << 20 | MINOR) as stat's st_dev */
		e->dev = pipe ? (uint32_t)makedev(d->dev >> 20, d->dev & 0xfffff) : 0;
		e->fd = d->fd;
		e->kind = d->kind;
		e->ends = d->ends;
	}
	if (f.why != KEV_FDS_EXIT && f.why != KEV_FDS_FORK && f.why != KEV_FDS_RECV)
		return -1;
	o->uid = f.uid;
	o->fds_why = f.why;
	o->nfds = (uint8_t)f.n;
	o->more_fds = (uint8_t)f.more;
	return 0;
}

int kev_decode(const void *data, size_t n, struct kev_ev *o)
{
	struct kev_hdr h;
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (!data || n < sizeof(h))
		return -1;
	memcpy(&h, data, sizeof(h));
	if (h.tgid == 0 || h.tgid > 4194304) /* PID_MAX_LIMIT */
		return -1;
	o->type = h.type;
	o->tgid = (pid_t)h.tgid;
	o->t_ns = h.t_ns;
	switch (h.type) {
	case KEV_FORK: {
		struct kev_fork f;
		if (n != sizeof(f))
			return -1;
		memcpy(&f, data, sizeof(f));
		if (f.ptgid == 0 || f.ptgid > 4194304)
			return -1;
		o->ptgid = (pid_t)f.ptgid;
		o->start_ns = f.start_ns;
		o->uid = f.uid;
		o->pid_ino = f.pid_ino;
		return 0;
	}
	case KEV_EXEC: {
		struct kev_exec x;
		if (n != sizeof(x))
			return -1;
		memcpy(&x, data, sizeof(x));
		/* len counts the NUL; 0 when the path could not be read */
		if (x.len > sizeof(x.filename) || (x.len && x.filename[x.len - 1] != '\0'))
			return -1;
		if (x.len && memchr(x.filename, '\0', x.len) != x.filename + x.len - 1)
			return -1;
		o->ino = x.ino;
		/* the kernel's dev_t (MAJOR << 20 | MINOR) as stat's st_dev */
		o->dev = makedev(x.dev >> 20, x.dev & 0xfffff);
		if (x.len)
			memcpy(o->filename, x.filename, x.len);
		return 0;
	}
	case KEV_EXIT:
		return n == sizeof(struct kev_exit) ? 0 : -1;
	case KEV_UNIXPEER: {
		struct kev_upeer u;
		if (n != sizeof(u))
			return -1;
		memcpy(&u, data, sizeof(u));
		if (!u.ino || !u.peer || u.ino == u.peer)
			return -1;
		o->ino = u.ino;
		o->peer = u.peer;
		return 0;
	}
	case KEV_FDS:
		return fds_fields(data, n, o);
	case KEV_TCP:
	case KEV_SOCKUSE:
	case KEV_ACCEPT: {
		struct kev_sock s;
		if (n != sizeof(s))
			return -1;
		memcpy(&s, data, sizeof(s));
		if (h.type == KEV_ACCEPT ? s.fd < 0 : s.fd != -1)
			return -1;
		if (h.type == KEV_SOCKUSE && ((s.family != AF_INET && s.family != AF_INET6) || s.flags))
			return -1;
		return sock_fields(&s, o);
	}
	default:
		return -1;
	}
}

const char *kev_state_name(int state)
{
	switch (state) {
	case KEV_STATE_ON: return "on";
	case KEV_STATE_OFF: return "off";
	default: return "unavailable";
	}
}

static void add_addr(cJSON *o, const char *name, int family, const uint8_t *a, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN] = "", ep[INET6_ADDRSTRLEN + 10];
	if (family == AF_INET6) {
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
		snprintf(ep, sizeof(ep), "[%s]:%u", ip, port);
	} else {
		inet_ntop(AF_INET, a, ip, sizeof(ip));
		snprintf(ep, sizeof(ep), "%s:%u", ip, port);
	}
	cJSON_AddStringToObject(o, name, ep);
}

cJSON *kev_ev_json(const struct kev_ev *e)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "type", kev_type_name(e->type));
	cJSON_AddNumberToObject(o, "pid", e->tgid);
	cJSON_AddNumberToObject(o, "t_ns", (double)e->t_ns);
	switch (e->type) {
	case KEV_FORK:
		cJSON_AddNumberToObject(o, "creator", e->ptgid);
		cJSON_AddNumberToObject(o, "start_ns", (double)e->start_ns);
		cJSON_AddNumberToObject(o, "uid", (double)e->uid);
		cJSON_AddNumberToObject(o, "pid_ino", (double)e->pid_ino);
		break;
	case KEV_EXEC:
		cJSON_AddNumberToObject(o, "dev", (double)e->dev);
		cJSON_AddNumberToObject(o, "ino", (double)e->ino);
		cJSON_AddStringToObject(o, "filename", e->filename);
		break;
	case KEV_TCP:
	case KEV_SOCKUSE:
	case KEV_ACCEPT:
		cJSON_AddNumberToObject(o, "ino", (double)e->ino);
		if (e->type == KEV_ACCEPT) {
			cJSON_AddNumberToObject(o, "fd", e->fd);
			cJSON_AddNumberToObject(o, "family", e->family);
		}
		else if (e->type == KEV_SOCKUSE)
			cJSON_AddNumberToObject(o, "tcp_state", e->newstate);
		else
			cJSON_AddStringToObject(o, "state",
						e->newstate == KEV_TCP_SYN_SENT ? "syn_sent"
						: e->newstate == KEV_TCP_ESTABLISHED ? "established"
						: e->newstate == KEV_TCP_FIN_WAIT1 ? "fin_wait1"
						: e->newstate == KEV_TCP_LAST_ACK ? "last_ack"
						: e->newstate == KEV_TCP_CLOSE ? "close"
										  : "other");
		if (e->type == KEV_TCP)
			cJSON_AddBoolToObject(o, "released", e->released);
		if (e->family == AF_INET || e->family == AF_INET6) {
			add_addr(o, "local", e->family, e->saddr, e->sport);
			add_addr(o, "remote", e->family, e->daddr, e->dport);
		}
		break;
	case KEV_UNIXPEER:
		cJSON_AddNumberToObject(o, "ino", (double)e->ino);
		cJSON_AddNumberToObject(o, "peer", (double)e->peer);
		break;
	case KEV_FDS: {
		static const char *const kinds[] = {"?", "pipe", "fifo", "unix", "tcp"};
		cJSON *a = cJSON_AddArrayToObject(o, "fds");
		for (unsigned i = 0; a && i < e->nfds; i++) {
			const struct kev_fdent *d = &e->fds[i];
			cJSON *x = cJSON_CreateObject();
			if (!x)
				break;
			cJSON_AddNumberToObject(x, "fd", d->fd);
			cJSON_AddStringToObject(x, "kind", kinds[d->kind < 5 ? d->kind : 0]);
			cJSON_AddNumberToObject(x, "ino", (double)d->ino);
			if (d->kind == KEV_FD_UNIX)
				cJSON_AddNumberToObject(x, "peer", (double)d->peer);
			else if (d->kind != KEV_FD_TCP) {
				cJSON_AddNumberToObject(x, "dev", d->dev);
				cJSON_AddStringToObject(x, "ends", d->ends == 3 ? "rw" : d->ends == 2 ? "w" : d->ends == 1 ? "r" : "");
			}
			cJSON_AddItemToArray(a, x);
		}
		cJSON_AddBoolToObject(o, "more", e->more_fds);
		cJSON_AddStringToObject(o, "at", e->fds_why == KEV_FDS_FORK ? "fork"
						 : e->fds_why == KEV_FDS_RECV ? "recv" : "exit");
		break;
	}
	}
	return o;
}

void kev_status(const struct kev *k, cJSON *a)
{
	cJSON *o = cJSON_AddObjectToObject(a, "kernel_events");
	cJSON_AddStringToObject(o, "state", kev_state_name(k->state));
	if (k->state != KEV_STATE_ON)
		cJSON_AddStringToObject(o, "reason", k->why);
	cJSON_AddNumberToObject(o, "events", (double)k->events);
	for (uint32_t t = 1; t < KEV_TYPES; t++)
		cJSON_AddNumberToObject(o, kev_type_name(t), (double)k->seen[t]);
	cJSON_AddNumberToObject(o, "lost", (double)kev_lost(k));
	cJSON_AddNumberToObject(o, "lost_rationed", (double)kev_uid_lost_sum(k));
	cJSON_AddNumberToObject(o, "ring_full", (double)kev_ring_full(k));
	cJSON_AddNumberToObject(o, "malformed", (double)k->malformed);
	if (k->state == KEV_STATE_ON) {
		cJSON_AddNumberToObject(o, "ring_kb", k->ring_kb);
		int off = !strncmp(k->accept_why, "kernel_events_accept", 20);
		cJSON_AddStringToObject(o, "accept_events",
					!k->accept_why[0] ? "on" : off ? "off" : "unavailable");
		if (k->accept_why[0] && !off)
			cJSON_AddStringToObject(o, "accept_reason", k->accept_why);
		cJSON_AddStringToObject(o, "socket_events", k->sockets ? "on" : "off");
	}
	/* the pipe holder search: one kernel pass (kiter.c), or /proc's */
	cJSON_AddStringToObject(o, "holder_search", k->iter ? "kernel" : "proc");
	if (k->iter) {
		struct kiter_stats st;
		kiter_stats(k->iter, &st);
		cJSON_AddNumberToObject(o, "holder_search_passes", (double)st.passes);
		cJSON_AddNumberToObject(o, "holder_search_fallbacks", (double)st.fallbacks);
		cJSON_AddNumberToObject(o, "holder_search_cut", (double)st.cut);
		cJSON_AddNumberToObject(o, "fd_table_reads", (double)st.fd_reads);
		cJSON_AddNumberToObject(o, "fd_table_fallbacks", (double)st.fd_fallbacks);
	} else if (k->iter_why[0]) {
		cJSON_AddStringToObject(o, "holder_search_reason", k->iter_why);
	}
}

cJSON *kev_dump(const struct kev *k)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddBoolToObject(a, "ok", 1);
	cJSON_AddStringToObject(a, "state", kev_state_name(k->state));
	cJSON *arr = cJSON_AddArrayToObject(a, "events");
	if (!k->recent)
		return a;
	uint64_t n = k->recent_n < KEV_RECENT ? k->recent_n : KEV_RECENT;
	unsigned first = (unsigned)((k->recent_next + KEV_RECENT - n) % KEV_RECENT);
	for (uint64_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, kev_ev_json(&k->recent[(first + i) % KEV_RECENT]));
	return a;
}

/* kev.c's consumers: one record, decoded, counted, kept, handed on */
void kev_take(struct kev *k, const void *data, size_t n)
{
	struct kev_ev e;
	if (kev_decode(data, n, &e) != 0) {
		k->malformed++;
		return;
	}
	k->events++;
	k->seen[e.type]++;
	if (k->recent) {
		k->recent[k->recent_next] = e;
		k->recent_next = (k->recent_next + 1) % KEV_RECENT;
		k->recent_n++;
	}
	if (k->on_event)
		k->on_event(k->arg, &e);
}
