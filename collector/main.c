/*
 * collector/main.c (hoptraced) — the collector daemon. One thread, one epoll
 * loop (loop.c) over:
 *   - the record listeners (SEQPACKET, abstract "\0hoptrace/rec" and its path
 *     under /run/hoptrace) and one connection per shimmed process image, in
 *     one epoll set per uid (records.c); every datagram's sender is the
 *     kernel's SCM_CREDENTIALS, never a field of the record;
 *   - the guard's query listener (SEQPACKET, abstract "\0" HT_QUERY_SOCKET,
 *     root peers only) — one datagram request, one datagram answer — and its
 *     subscriptions to prejudged chains (queries.c, push.c);
 *   - the CLI's nng REP socket (ipc:// HT_CONTROL_PATH, mode 0600, root peers
 *     only; queries.c);
 *   - a 1 s timer for retention, liveness and squatted names (loop.c);
 *   - the trace inquiry service's eventfd (collector/inquiry_svc.c): HTTP
 *     inquiries from other hosts are computed here, on the graph's thread.
 * A who/chain answer with unfollowed upstream `conn` leaves (the chain comes
 * from another host) is handed to the inquiry follower thread, which asks
 * those hosts and sends the merged answer itself (follow.c); a local-origin
 * answer is sent from here at once, at the cost of one strstr().
 * Before answering any query it drains pending records — quiet uids first,
 * then round-robin, bounded in time (query_drain) — so a record sent just
 * before a connect() is in the graph when the guard asks about the SYN, and
 * another user's flood delays the answer by a bounded amount (records.c).
 * Nothing a sender controls blocks this thread: passed descriptors are
 * refused by the kernel or closed elsewhere (closer.c). Every socket is also
 * served at a path only root can bind, and a squatted abstract name is
 * reported (sockets.c).
 *
 * This file holds main(): it reads the configuration, sets each part up in
 * the order the daemon needs (sockets before daemon(), threads after it),
 * runs the loop and tears down. daemon.h maps the parts.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>
#include <getopt.h>

#include "hoptrace/ini.h"
#include "hoptrace/fleetconf.h"
#include "hoptrace/log.h"
#include "hoptrace/sdnotify.h"
#include "hoptrace/sockdiag.h"
#include "hoptrace/unshim.h"
#include "daemon.h"
#include "judge.h"
#include "kiter.h"
#include <linux/types.h>
#include "bpf/kev_event.h"

static volatile sig_atomic_t quit, hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		quit = 1;
}

/* The status callback takes no argument (answer.h): the one collector. */
static struct collector *status_of;

/* hoptrace status: the sockets, squatted names, passed descriptors, and
 * each uid's record connections */
static void status_extra(void *obj)
{
	sockets_status(status_of, obj);
	closer_status(&status_of->closer, obj);
	records_status(status_of, obj);
}

static const char *conf_path;
static int opt_fg, opt_verbose;

static void usage(void)
{
	fprintf(stderr, "usage: hoptraced [-dnv] [-f file]\n");
	exit(2);
}

/* the file descriptor limit raised to its hard limit; the quit signals */
static void process_setup(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Each kernel event, as it is read: the lifecycle into the graph (graph_kev.c) */
static void kev_event(void *arg, const struct kev_ev *e)
{
	struct collector *c = arg;
	switch (e->type) {
	case KEV_FORK:
		graph_kev_fork(c->graph, e->tgid, e->ptgid, e->start_ns, e->t_ns);
		graph_kev_fork_uid(c->graph, e->tgid, (uid_t)e->uid);
		graph_kev_fork_ino(c->graph, e->tgid, e->pid_ino);
		break;
	case KEV_EXEC: graph_kev_exec(c->graph, e->tgid, e->dev, e->ino, e->filename, e->t_ns); break;
	case KEV_EXIT: graph_kev_exit(c->graph, e->tgid, e->t_ns); break;
	case KEV_TCP: {
		struct graph_kev_sock s = {e->tgid, e->ino, e->t_ns, e->family, e->sport, e->dport,
					   e->oldstate, e->newstate, e->saddr, e->daddr,
					   e->uid, 1, e->released};
		graph_kev_tcp(c->graph, &s, now_ns());
		break;
	}
	case KEV_UNIXPEER: graph_kev_unix_peer(c->graph, e->ino, e->peer, e->t_ns); break;
	case KEV_SOCKUSE: {
		struct graph_kev_sock s = {e->tgid, e->ino, e->t_ns, e->family, e->sport, e->dport,
					   0, e->newstate, e->saddr, e->daddr, e->uid, 1, 0};
		graph_kev_sockuse(c->graph, &s, now_ns());
		break;
	}
	case KEV_FDS: {
		static const uint8_t kinds[] = {0, HT_CHAN_PIPE, HT_CHAN_FIFO, HT_CHAN_SOCK, HT_CHAN_SOCK};
		struct graph_kev_fd f[32];
		unsigned n = e->nfds < 32 ? e->nfds : 32;
		for (unsigned i = 0; i < n; i++) {
			const struct kev_fdent *d = &e->fds[i];
			f[i] = (struct graph_kev_fd){.fd = d->fd, .kind = kinds[d->kind <= KEV_FD_TCP ? d->kind : 0],
						     .ends = (uint8_t)((d->ends & KEV_FD_END_R ? HE_R : 0) |
								       (d->ends & KEV_FD_END_W ? HE_W : 0)),
						     .dev = d->dev, .ino = d->ino, .peer = d->peer};
		}
		if (e->fds_why == KEV_FDS_FORK)
			graph_kev_fork_fds(c->graph, e->tgid, e->t_ns, f, n, e->more_fds);
		else if (e->fds_why == KEV_FDS_RECV)
			graph_kev_recv_fds(c->graph, e->tgid, e->t_ns, f, n, e->more_fds);
		else
			graph_kev_fds(c->graph, e->tgid, e->uid, e->t_ns, f, n, e->more_fds);
		break;
	}
	}
}

/* The kernel event source (kev.c) for this network namespace, before
 * daemon() so that "on" fails on the terminal: auto says once why it is
 * unavailable and goes on without it. */
static void kev_start(struct collector *c)
{
	struct kev *k = &c->kev;
	if (kev_open(k, c->cf.kev_mode, (unsigned)c->cf.kev_ring_kb, c->socks.netns_ino,
		     c->cf.kev_accept, c->cf.kev_sockets) != 0) {
		if (c->cf.kev_mode == KEV_MODE_ON)
			fatalx("kernel events: cannot load (kernel_events = on): %s", k->why);
		log_warnx("kernel events: unavailable (%s); working without them", k->why);
		return;
	}
	if (k->state == KEV_STATE_OFF) {
		log_info("kernel events: off (kernel_events = off)");
		return;
	}
	ep_add(c, k->fd, TAG_KEV);
	k->on_event = kev_event;
	k->arg = c;
	graph_kev_on(c->graph, 1);
	log_info("kernel events: on (netns %llu, ring %u KiB)",
		 (unsigned long long)c->socks.netns_ino, k->ring_kb);
	/* a pipe's holders in one kernel pass, not every /proc/PID/fd; a
	 * process's table (the walks' fd checks) by the kernel too */
	k->iter = kiter_open(c->socks.netns_ino, k->iter_why, sizeof(k->iter_why));
	if (k->iter)
		graph_set_kernel_search(c->graph, kiter_pipe_holders, kiter_fds, k->iter);
	else
		log_warnx("kernel events: holder searches and fd checks through /proc (%s)", k->iter_why);
	if (k->accept_why[0] && c->cf.kev_accept)
		log_warnx("kernel events: no accept events (%s)", k->accept_why);
}

/* Before daemon(): the graph, the epoll sets, the sockets and the control
 * socket's directory (a failure is still reported on the terminal). */
static void collector_open(struct collector *c)
{
	struct graph_conf gc = {.retention_ns = c->cf.retention_ms * 1000000ULL,
				.window_ns = c->cf.window_ms * 1000000ULL,
				.max_procs = c->cf.max_procs, .use_procfs = 1,
				.dispose_fd = closer_dispose, .dispose_ctx = &c->closer};
	c->graph = graph_new(&gc);
	if (!c->graph)
		fatalx("out of memory");
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0)
		fatal("epoll_create1");
	records_init(c);
	/* the kernel refuses passed descriptors where it can (closer.c) */
	closer_init(&c->closer);
	sockets_open(c);
	control_prepare(c);
	kev_start(c);
}

/* After daemon(): the threads (nng's, the closer, the inquiry follower),
 * with the quit signals blocked so that only this thread takes them. */
static void collector_start(struct collector *c)
{
	char err[512];
	sigset_t qs, olds;
	sigemptyset(&qs);
	sigaddset(&qs, SIGTERM);
	sigaddset(&qs, SIGINT);
	sigaddset(&qs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &qs, &olds);
	closer_start(&c->closer);
	graph_kev_self(c->graph, getpid()); /* (daemon()'s child: the pid from now) */
	kev_self(&c->kev, getpid());
	control_open(c);
	loop_timer_open(c);

	c->qctx.g = c->graph;
	c->qctx.hostname = c->cf.hostname;
	c->qctx.nl = sd_open();
	c->qctx.stats = &c->stats;
	status_of = c;
	c->stats.status_extra = status_extra;
	c->qctx.now_fn = now_ns;
	c->qctx.kev = &c->kev;
	c->qctx.started = now_ns();
	if (c->qctx.nl < 0)
		log_warnx("sock_diag unavailable: connection lookups will fail");

	c->inq = inquiry_start(&c->cf.inq, c->cf.hostname, follow_inq_who, c, conf_path, opt_fg,
			       opt_verbose, err, sizeof(err));
	if (!c->inq)
		fatalx("%s", err);
	ep_add(c, inquiry_fd(c->inq), TAG_INQ);
	pthread_sigmask(SIG_SETMASK, &olds, NULL);
}

int main(int argc, char **argv)
{
	ht_unshim_self(argv);
	const char *conffile = HT_CONF_DEFAULT;
	int foreground = 0, check = 0, verbose = 0, explicit_conf = 0, ch, child_fd = -1;
	int judge_fd = -1;
	char err[512];

	while ((ch = getopt(argc, argv, "df:nvhX:J:")) != -1) {
		switch (ch) {
		case 'X': child_fd = atoi(optarg); break; /* the inquiry child (privsep.h) */
		case 'J': judge_fd = atoi(optarg); break; /* the judge (judge.h) */
		case 'd': foreground = 1; break;
		case 'f': conffile = optarg; explicit_conf = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	conf_path = conffile;
	opt_fg = foreground;
	opt_verbose = verbose;
	log_init(child_fd >= 0 ? "hoptraced-inquiry" : judge_fd >= 0 ? "hoptraced-judge" : "hoptraced",
		 foreground || check, verbose);
	struct collector *c = calloc(1, sizeof(*c));
	if (!c)
		fatalx("out of memory");
	c->quit = &quit;
	c->hup = &hup;
	if (conf_load(conffile, explicit_conf && child_fd < 0 && judge_fd < 0, &c->cf, err, sizeof(err)) != 0) {
		fprintf(stderr, "hoptraced: %s\n", err);
		free(c);
		return 1;
	}
	if (child_fd >= 0) {
		if (child_fd != 3)
			usage();
		signal(SIGPIPE, SIG_IGN);
		return inq_child_main(&c->cf.inq, child_fd);
	}
	if (judge_fd >= 0) {
		if (judge_fd != 3 || child_fd >= 0)
			usage();
		signal(SIGPIPE, SIG_IGN);
		return judge_main(&c->cf.inq, judge_fd);
	}
	if (check) {
		/* [fleet] (docs/fleet.md): every fault, one line each */
		int bad = c->cf.inq.enabled &&
			  fleet_check_print("hoptraced", conffile, explicit_conf, FLEET_USE_ALL, stderr) > 0;
		if (!bad)
			printf("configuration OK\n");
		free(c);
		return bad;
	}
	process_setup();
	collector_open(c);
	if (!foreground && daemon(0, 0) < 0)
		fatal("daemon");
	collector_start(c);
	c->loop.wd_usec = ht_sd_watchdog_usec(); /* systemd: Type=notify, WatchdogSec */
	ht_sd_notify("READY=1");
	log_info("collecting as host %s: records @%s, queries @%s, control %s, inquiries %s",
		 c->cf.hostname, c->cf.rec_socket, c->cf.query_socket, c->control_url,
		 c->cf.inq.enabled ? c->cf.inq.listen : "off");

	loop_run(c);

	ht_sd_notify("STOPPING=1");
	log_info("exiting");
	sockets_unlink(c);
	inquiry_stop(c->inq);
	nng_close(c->rep);
	unlink(c->cf.control);
	graph_free(c->graph);
	kiter_close(c->kev.iter);
	kev_close(&c->kev);
	return 0;
}
