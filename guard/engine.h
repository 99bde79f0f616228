/*
 * engine.h — hopguard's NFQUEUE engine: one netlink socket bound to the
 * queue, W worker threads that each receive from it, decide and send their
 * own verdicts (so one slow decision holds only its worker), a small cache of
 * decisions for SYN retransmits, the audit log.
 */
#ifndef HOPTRACE_GUARD_ENGINE_H
#define HOPTRACE_GUARD_ENGINE_H

#include "hoptrace/acl.h"
#include "gconf.h"

struct engine;

/* bare: accept every SYN at once (the benchmark's baseline), no collector,
 * no policy, no log. acl may be NULL with policy_url set or in bare mode.
 * The engine owns acl. Returns NULL (logged) on failure. */
struct engine *engine_new(const struct guard_conf *conf, struct acl *acl, int bare);
int engine_start(struct engine *e);      /* starts the workers */
void engine_set_acl(struct engine *e, struct acl *acl); /* frees the old one */
void engine_stop(struct engine *e);      /* joins the workers, unbinds, frees */
void engine_reopen_log(struct engine *e);
void engine_stats(struct engine *e, char *buf, size_t n);
/* every worker went round its loop within max_ms (an idle one does every
 * 200 ms; a deciding one waits at most the collector's and policy timeouts):
 * the systemd watchdog is fed only then */
int engine_alive(struct engine *e, long max_ms);

#endif
