/*
 * cli.h — the `hoptrace` CLI's internal header: its settings, the helpers the
 * subcommands share and the subcommands themselves.
 *
 *   main.c        the dispatcher: global options, the command table, usage
 *   conf.c        settings (cli_opt), the configuration file, usage errors
 *   ask.c         one question to the collector (the query codec), its answer
 *                 printed, the exit status from its enum ht_qerr
 *   shimpath.c    where the shim is (next to the binary)
 *   atomicfile.c  replacing a file atomically
 *   cmd_*.c       one file per subcommand
 * and modules with their own headers, no settings:
 *   ctlclient.c   the nng REQ round trip over the control socket
 *   chainfmt.c    answers as text (tree, dot, ps, status)
 *   ldpreload.c   the /etc/ld.so.preload (and LD_PRELOAD) list: tokenizer and edit
 *   metrics.c     status and audit log as Prometheus text
 *   shimprobe.c   proving the shim loads; which processes carry it
 *
 * Every subcommand takes argv from the subcommand name on (argv[0] is the
 * name) and returns the process exit status (CLI_EX_*).
 */
#ifndef HOPTRACE_CLI_H
#define HOPTRACE_CLI_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include "hoptrace/query.h"

/* exit status (docs/man/hoptrace.8 EXIT STATUS) */
#define CLI_EX_OK 0
#define CLI_EX_FAIL 1    /* the collector answered ok:false, or a local operation failed */
#define CLI_EX_USAGE 2   /* usage or configuration error */
#define CLI_EX_UNREACH 3 /* the collector is unreachable */

#define CLI_PROG "hoptrace"
#define CLI_PRELOAD_FILE_DEFAULT "/etc/ld.so.preload"
#define CLI_AUDIT_LOG_DEFAULT "/var/log/hoptrace/audit.log"
#define CLI_SHIM_NAME "libhoptrace.so"

/* ---- settings (conf.c) ------------------------------------------------------ */

/* The global options (main.c fills them from argv) and what the configuration
 * file adds (cli_conf_load). */
struct cli_opts {
	const char *conf; /* -f CONF */
	int conf_given;
	int json;                 /* --json */
	int dot;                  /* --dot */
	const char *preload_file; /* --preload-file */
	int timeout_ms;           /* --timeout; 0: the client's default */
	const char *output;       /* --output (metrics) */
	char control[PATH_MAX];   /* [collector] control */
	char audit_log[PATH_MAX]; /* [guard] audit_log ("" when set empty) */
};
extern struct cli_opts cli_opt;

/* Sets control and audit_log to their defaults, then reads cli_opt.conf (a
 * missing default file is no error). 0, or -1 with the reason printed. */
int cli_conf_load(void);

/* Prints "hoptrace: " fmt (with arg) and a pointer to -h on stderr; returns
 * CLI_EX_USAGE. */
int cli_usage_err(const char *fmt, const char *arg);

/* ---- the collector (ask.c) --------------------------------------------------- */

/* Renders an ok answer as text (chainfmt.h); 0 or -1. */
typedef int (*cli_render_fn)(const char *json, FILE *out);

/* The exit status for how a question ended: CLI_EX_OK for HT_QE_OK,
 * CLI_EX_UNREACH when the collector could not be asked or did not answer
 * (unreachable, not_root, timeout, closed), CLI_EX_FAIL for an answer with
 * ok:false (no_conn, no_proc, bad_request, ...) or one that cannot be read. */
int cli_exit_status(enum ht_qerr e);

/* Builds req (ht_qreq_build) and sends it to the collector at cli_opt.control.
 * Returns CLI_EX_OK with *answer the raw ok answer (malloc()ed, the caller
 * frees it), or the exit status (cli_exit_status) with *answer NULL and the
 * reason printed — with --json an ok:false answer is printed too. *code (when
 * code is not NULL) gets how it ended: HT_QE_OK, the answer's code, or this
 * side's (HT_QE_UNREACHABLE, HT_QE_TIMEOUT, HT_QE_BAD_ANSWER, ...). */
int cli_ask(const struct ht_qreq *req, char **answer, enum ht_qerr *code);

/* cli_ask, then the answer printed: as received with --json or when render is
 * NULL, else rendered. Returns the exit status. */
int cli_query(const struct ht_qreq *req, cli_render_fn render);

/* ---- files -------------------------------------------------------------------- */

/* Absolute path of libhoptrace.so next to this binary (shimpath.c): 0, or -1
 * with the reason printed. */
int cli_find_shim(char *out, size_t n);

/* Replaces path with data (atomicfile.c): a temporary file in the same
 * directory, written, given mode (and old's owner when old is not NULL),
 * fsync'd, renamed over path, and the directory fsync'd — a crash leaves the
 * old file or the new one, never a mix. 0, or -1 with the reason printed. */
int cli_write_atomic(const char *path, const char *data, size_t len, mode_t mode,
		     const struct stat *old);

/* ---- subcommands ----------------------------------------------------------------- */

int cmd_chain(int argc, char **argv);   /* chain PID */
int cmd_who(int argc, char **argv);     /* who LOCAL_IP:PORT REMOTE_IP:PORT */
int cmd_ps(int argc, char **argv);      /* ps */
int cmd_graph(int argc, char **argv);   /* graph --dot | --json */
int cmd_status(int argc, char **argv);  /* status */
int cmd_kev_dump(int argc, char **argv); /* kev-dump */
int cmd_metrics(int argc, char **argv); /* metrics [--output FILE] */
int cmd_env(int argc, char **argv);     /* env */
int cmd_enable(int argc, char **argv);  /* enable [--preload-file FILE] */
int cmd_disable(int argc, char **argv); /* disable [--preload-file FILE] */
int cmd_log(int argc, char **argv);     /* log [-f] [FILE] (its own options) */
int cmd_policy(int argc, char **argv);  /* policy check|decide|ask ... (its own options) */
int cmd_ca(int argc, char **argv);      /* ca init|issue|revoke|list DIR ... (its own options) */

#endif
