/*
 * conf.c — hoptraced's configuration: the [collector] section of
 * hoptrace.conf (docs/config.md) and, through collector/inquiry_svc.c, its
 * [inquiry] section. Other programs' sections are skipped.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hoptrace/ini.h"
#include "daemon.h"

static int conf_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t errlen)
{
	struct conf *c = ctx;
	if (strcmp(sec, "inquiry") == 0)
		return inq_conf_key(&c->inq, key, val, err, errlen);
	if (strcmp(sec, "fleet") == 0)
		return inq_fleet_key(&c->inq, key, val, err, errlen);
	if (strcmp(sec, "collector") != 0)
		return 0; /* other programs' sections */
	if (strcmp(key, "hostname") == 0) {
		if (!*val || strlen(val) >= sizeof(c->hostname)) {
			snprintf(err, errlen, "hostname: empty or longer than 63 bytes");
			return -1;
		}
		snprintf(c->hostname, sizeof(c->hostname), "%s", val);
	} else if (strcmp(key, "control") == 0) {
		if (val[0] != '/' || strlen(val) >= sizeof(c->control) - 1) {
			snprintf(err, errlen, "control: must be an absolute path");
			return -1;
		}
		snprintf(c->control, sizeof(c->control), "%s", val);
	} else if (strcmp(key, "record_socket") == 0 || strcmp(key, "query_socket") == 0) {
		char *dst = key[0] == 'r' ? c->rec_socket : c->query_socket;
		if (!*val || strlen(val) >= sizeof(c->rec_socket)) {
			snprintf(err, errlen, "%s: empty or longer than 99 bytes", key);
			return -1;
		}
		snprintf(dst, sizeof(c->rec_socket), "%s", val);
	} else if (strcmp(key, "retention") == 0) {
		return ini_duration_ms(val, &c->retention_ms, err, errlen);
	} else if (strcmp(key, "history_window") == 0) {
		return ini_duration_ms(val, &c->window_ms, err, errlen);
	} else if (strcmp(key, "record_batch") == 0) {
		if (ini_duration_ms(val, &c->batch_ms, err, errlen) != 0)
			return -1;
		if (c->batch_ms > 100) {
			snprintf(err, errlen, "record_batch: at most 100ms");
			return -1;
		}
	} else if (strcmp(key, "busy_poll_us") == 0) {
		if (ini_uint(val, 10000ULL, &c->busy_poll_us, err, errlen) != 0)
			return -1;
	} else if (strcmp(key, "record_rate") == 0 || strcmp(key, "record_rate_uid") == 0) {
		if (ini_uint(val, 100000000ULL, key[11] ? &c->rate_uid : &c->rate_conn, err, errlen) != 0)
			return -1;
		if ((key[11] ? c->rate_uid : c->rate_conn) < 100) {
			snprintf(err, errlen, "%s: at least 100 (records per second)", key);
			return -1;
		}
	} else if (strcmp(key, "max_connections_uid") == 0) {
		if (ini_uint(val, 10000000ULL, &c->max_conns_uid, err, errlen) != 0)
			return -1;
		if (c->max_conns_uid < 16) {
			snprintf(err, errlen, "max_connections_uid: at least 16");
			return -1;
		}
	} else if (strcmp(key, "query_drain") == 0) {
		unsigned long long ms;
		if (ini_duration_ms(val, &ms, err, errlen) != 0)
			return -1;
		if (ms < 1 || ms > 100) {
			snprintf(err, errlen, "query_drain: 1ms to 100ms");
			return -1;
		}
		c->query_drain_us = ms * 1000;
	} else if (strcmp(key, "max_processes") == 0) {
		if (ini_uint(val, 100000000ULL, &c->max_procs, err, errlen) != 0)
			return -1;
		if (c->max_procs < 100) {
			snprintf(err, errlen, "max_processes: at least 100");
			return -1;
		}
	} else if (strcmp(key, "kernel_events") == 0) {
		if (strcmp(val, "auto") == 0)
			c->kev_mode = KEV_MODE_AUTO;
		else if (strcmp(val, "on") == 0)
			c->kev_mode = KEV_MODE_ON;
		else if (strcmp(val, "off") == 0)
			c->kev_mode = KEV_MODE_OFF;
		else {
			snprintf(err, errlen, "kernel_events: auto, on or off");
			return -1;
		}
	} else if (strcmp(key, "kernel_events_accept") == 0) {
		if (strcmp(val, "on") && strcmp(val, "off")) {
			snprintf(err, errlen, "kernel_events_accept: on or off");
			return -1;
		}
		c->kev_accept = val[1] == 'n';
	} else if (strcmp(key, "kernel_events_sockets") == 0) {
		if (strcmp(val, "on") && strcmp(val, "off")) {
			snprintf(err, errlen, "kernel_events_sockets: on or off");
			return -1;
		}
		c->kev_sockets = val[1] == 'n';
	} else if (strcmp(key, "kernel_events_ring_kb") == 0) {
		if (ini_uint(val, KEV_RING_KB_MAX, &c->kev_ring_kb, err, errlen) != 0)
			return -1;
		/* a BPF ring buffer is a power of two of pages */
		if (c->kev_ring_kb < KEV_RING_KB_MIN || (c->kev_ring_kb & (c->kev_ring_kb - 1))) {
			snprintf(err, errlen, "kernel_events_ring_kb: a power of two, %d to %d",
				 KEV_RING_KB_MIN, KEV_RING_KB_MAX);
			return -1;
		}
	} else {
		snprintf(err, errlen, "unknown key \"%s\" in [collector]", key);
		return -1;
	}
	return 0;
}

int conf_load(const char *path, int explicit_path, struct conf *c, char *err, size_t n)
{
	memset(c, 0, sizeof(*c));
	gethostname(c->hostname, sizeof(c->hostname) - 1);
	snprintf(c->control, sizeof(c->control), "%s", HT_CONTROL_PATH);
	snprintf(c->rec_socket, sizeof(c->rec_socket), "%s", HT_REC_SOCKET);
	snprintf(c->query_socket, sizeof(c->query_socket), "%s", HT_QUERY_SOCKET);
	c->retention_ms = 600000;
	c->window_ms = 60000;
	c->max_procs = 200000;
	c->batch_ms = 2;
	c->busy_poll_us = 100;
	c->rate_conn = 100000;
	c->rate_uid = 50000;
	c->max_conns_uid = 4096;
	c->query_drain_us = 1000;
	c->kev_mode = KEV_MODE_AUTO;
	c->kev_accept = 0; /* +4..5% CPU on syscall-bound work, and the graph takes none yet */
	c->kev_sockets = 1;
	c->kev_ring_kb = KEV_RING_KB_DEFAULT;
	inq_conf_defaults(&c->inq);
	if (!explicit_path && access(path, F_OK) != 0)
		return 0; /* no file: defaults */
	if (ini_parse(path, conf_cb, c, err, n) != 0)
		return -1;
	return inq_conf_finish(&c->inq, err, n);
}

