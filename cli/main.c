/*
 * cli/main.c (hoptrace) — the `hoptrace` CLI: asks the local collector (nng REQ over
 * the control socket, docs/query-protocol.md) and prints the answers; opts a
 * shell or the whole system in to the shim.
 *
 * Exit status: 0 ok, 1 the collector answered ok:false (or a local operation
 * failed), 2 usage or configuration error, 3 the collector is unreachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hoptrace/chain.h"
#include "cli.h"
#include "hoptrace/ini.h"
#include "chainfmt.h"
#include "ctlclient.h"
#include "metrics.h"
#include "shimprobe.h"

#define EX_OK 0
#define EX_FAIL 1
#define EX_USAGE 2
#define EX_UNREACH 3

#define PRELOAD_FILE_DEFAULT "/etc/ld.so.preload"
#define SHIM_NAME "libhoptrace.so"
#define AUDIT_LOG_DEFAULT "/var/log/hoptrace/audit.log"
#define BACKUP_SUFFIX "-hoptrace.bak"
#define PROBE_TIMEOUT_MS 5000

static const char *progname = "hoptrace";

static struct {
	const char *conf;
	int conf_given;
	int json;
	int dot;
	const char *preload_file;
	int timeout_ms;
	const char *output;
	char control[PATH_MAX];
	char audit_log[PATH_MAX];
} opt = {
	.conf = HT_CONF_DEFAULT,
	.preload_file = PRELOAD_FILE_DEFAULT,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hoptrace [-f CONF] [--json] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  chain PID                        the chain behind process PID\n"
		"  who LOCAL_IP:PORT REMOTE_IP:PORT the chain behind a TCP connection\n"
		"  ps                               processes the collector knows\n"
		"  graph --dot                      the whole graph, as Graphviz dot\n"
		"  status                           the collector's counters and which\n"
		"                                   running processes carry the shim\n"
		"  metrics [--output FILE]          the counters in Prometheus text format\n"
		"  env                              shell lines that opt a shell in:\n"
		"                                   eval \"$(hoptrace env)\"\n"
		"  enable [--preload-file FILE]     check that the shim loads, then add it\n"
		"                                   to /etc/ld.so.preload\n"
		"  disable [--preload-file FILE]    remove it from /etc/ld.so.preload\n"
		"  log [-f] [FILE]                  show the decision log (default: the\n"
		"                                   configuration's audit_log)\n"
		"  policy check FILE                check an access list\n"
		"\n"
		"options:\n"
		"  -f CONF        configuration file (default %s)\n"
		"  --json         print the collector's answer as JSON, unchanged\n"
		"  --preload-file FILE  the file enable/disable edit (default %s)\n"
		"  --output FILE  metrics: write FILE atomically (node_exporter textfile)\n"
		"  --timeout MS   how long to wait for the collector (default 5000)\n"
		"  -h, --help     this text\n"
		"\n"
		"exit status: 0 ok, 1 the collector answered an error, 2 usage,\n"
		"3 the collector is unreachable\n",
		HT_CONF_DEFAULT, PRELOAD_FILE_DEFAULT);
}

static int usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", progname);
	fprintf(stderr, fmt, arg ? arg : "");
	fprintf(stderr, "\n(see hoptrace -h)\n");
	return EX_USAGE;
}

/* ---- configuration ---------------------------------------------------------- */

static int conf_cb(void *ctx, const char *section, const char *key, const char *value,
		   char *err, size_t errlen)
{
	(void)ctx;
	if (strcmp(section, "collector") == 0 && strcmp(key, "control") == 0) {
		if (value[0] != '/' || strlen(value) >= sizeof(opt.control)) {
			snprintf(err, errlen, "control must be an absolute path");
			return -1;
		}
		snprintf(opt.control, sizeof(opt.control), "%s", value);
	}
	if (strcmp(section, "guard") == 0 && strcmp(key, "audit_log") == 0) {
		if (value[0] && (value[0] != '/' || strlen(value) >= sizeof(opt.audit_log))) {
			snprintf(err, errlen, "audit_log must be an absolute path (or empty)");
			return -1;
		}
		snprintf(opt.audit_log, sizeof(opt.audit_log), "%s", value);
	}
	return 0;
}

static int load_conf(void)
{
	char err[1024];
	struct stat st;

	snprintf(opt.control, sizeof(opt.control), "%s", CTL_DEFAULT_PATH);
	snprintf(opt.audit_log, sizeof(opt.audit_log), "%s", AUDIT_LOG_DEFAULT);
	if (!opt.conf_given && stat(opt.conf, &st) < 0 && errno == ENOENT)
		return 0; /* no config file: defaults */
	if (ini_parse(opt.conf, conf_cb, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", progname, err);
		return -1;
	}
	return 0;
}

/* ---- talking to the collector ------------------------------------------------ */

/* Sends req (consumed) and returns the answer object; on failure prints why and
 * returns NULL with *rc the exit status. *text gets the raw answer. */
static cJSON *ask(cJSON *req, char **text, int *rc)
{
	char err[512];
	char *s = cJSON_PrintUnformatted(req);
	cJSON *ans, *ok;

	cJSON_Delete(req);
	*text = NULL;
	if (!s) {
		fprintf(stderr, "%s: out of memory\n", progname);
		*rc = EX_FAIL;
		return NULL;
	}
	if (ctl_request(opt.control, s, text, opt.timeout_ms, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: cannot reach collector at %s: %s\n", progname, opt.control,
			err);
		free(s);
		*rc = EX_UNREACH;
		return NULL;
	}
	free(s);
	ans = cJSON_Parse(*text);
	if (!cJSON_IsObject(ans)) {
		fprintf(stderr, "%s: the collector's answer is not a JSON object\n", progname);
		cJSON_Delete(ans);
		*rc = EX_FAIL;
		return NULL;
	}
	ok = cJSON_GetObjectItemCaseSensitive(ans, "ok");
	if (!cJSON_IsTrue(ok)) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans, "error");
		fprintf(stderr, "%s: collector: %s\n", progname,
			cJSON_IsString(e) ? e->valuestring : "request failed (no error text)");
		if (opt.json)
			printf("%s\n", *text);
		cJSON_Delete(ans);
		*rc = EX_FAIL;
		return NULL;
	}
	*rc = EX_OK;
	return ans;
}

typedef int (*render_fn)(const char *json, FILE *out);

static int query(cJSON *req, render_fn render)
{
	char *text = NULL;
	int rc;
	cJSON *ans = ask(req, &text, &rc);

	if (!ans) {
		free(text);
		return rc;
	}
	cJSON_Delete(ans);
	if (opt.json || !render) {
		printf("%s\n", text);
	} else if (render(text, stdout) < 0) {
		fprintf(stderr, "%s: cannot read the collector's answer: %s\n", progname,
			chainfmt_error());
		rc = EX_FAIL;
	}
	free(text);
	return rc;
}

static cJSON *new_req(const char *op)
{
	cJSON *r = cJSON_CreateObject();
	if (r)
		cJSON_AddStringToObject(r, "op", op);
	return r;
}

static int cmd_chain(int argc, char **argv)
{
	char *end;
	long pid;
	cJSON *r;

	if (argc != 2)
		return usage_err("usage: hoptrace chain PID%s", NULL);
	errno = 0;
	pid = strtol(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || pid <= 0 || pid > INT_MAX)
		return usage_err("not a process id: %s", argv[1]);
	if (!(r = new_req("chain")))
		return EX_FAIL;
	cJSON_AddNumberToObject(r, "pid", (double)pid);
	return query(r, chainfmt_tree);
}

static int cmd_who(int argc, char **argv)
{
	struct ht_endpoint a, b;
	char la[HT_ENDPOINT_STRLEN], ra[HT_ENDPOINT_STRLEN];
	cJSON *r;

	if (argc != 3)
		return usage_err("usage: hoptrace who LOCAL_IP:PORT REMOTE_IP:PORT%s", NULL);
	if (ht_endpoint_parse(argv[1], &a) < 0)
		return usage_err("not an endpoint (IP:PORT or [IPv6]:PORT): %s", argv[1]);
	if (ht_endpoint_parse(argv[2], &b) < 0)
		return usage_err("not an endpoint (IP:PORT or [IPv6]:PORT): %s", argv[2]);
	if (!(r = new_req("who")))
		return EX_FAIL;
	cJSON_AddStringToObject(r, "local", ht_endpoint_format(&a, la, sizeof(la)));
	cJSON_AddStringToObject(r, "remote", ht_endpoint_format(&b, ra, sizeof(ra)));
	return query(r, chainfmt_tree);
}

static int cmd_simple(int argc, char **argv, const char *op, render_fn render)
{
	cJSON *r;

	if (argc != 1)
		return usage_err("%s takes no arguments", op);
	if (!(r = new_req(op)))
		return EX_FAIL;
	return query(r, render);
}

static int cmd_graph(int argc, char **argv)
{
	cJSON *r;

	if (argc != 1)
		return usage_err("usage: hoptrace graph --dot | --json%s", NULL);
	if (!opt.dot && !opt.json)
		return usage_err("graph needs --dot (Graphviz) or --json%s", NULL);
	if (!(r = new_req("graph")))
		return EX_FAIL;
	return query(r, chainfmt_dot);
}

/* ---- the shim's location, env, enable/disable ------------------------------- */

#ifndef HT_MULTIARCH
#define HT_MULTIARCH ""
#endif

/* Absolute path of libhoptrace.so next to this binary: ../lib/hoptrace/
 * (make install), ../lib/MULTIARCH/hoptrace/ (the Debian package:
 * /usr/lib/x86_64-linux-gnu/hoptrace), the same directory in a build tree. */
static int find_shim(char *out, size_t n)
{
	char exe[PATH_MAX], cand[PATH_MAX + 64], real[PATH_MAX];
	const char *rel[] = {"../lib/hoptrace/" SHIM_NAME,
			     "../lib/" HT_MULTIARCH "/hoptrace/" SHIM_NAME, SHIM_NAME};
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (l <= 0) {
		fprintf(stderr, "%s: cannot find my own executable: %s\n", progname,
			strerror(errno));
		return -1;
	}
	exe[l] = '\0';
	dirname(exe);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
		if (access(cand, R_OK) == 0 && realpath(cand, real) && strlen(real) < n) {
			snprintf(out, n, "%s", real);
			return 0;
		}
	}
	fprintf(stderr, "%s: %s not found in %s/../lib/hoptrace, %s/../lib/%s/hoptrace or %s\n",
		progname, SHIM_NAME, exe, exe, HT_MULTIARCH, exe);
	return -1;
}

/* Single-quotes s for a POSIX shell. */
static void put_shell_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* Does the whitespace/colon separated list contain item? */
static int list_has(const char *list, const char *item)
{
	size_t il = strlen(item);

	for (const char *p = list; p && *p;) {
		size_t l;
		p += strspn(p, " \t:\n");
		l = strcspn(p, " \t:\n");
		if (l == il && strncmp(p, item, l) == 0)
			return 1;
		p += l;
	}
	return 0;
}

static int cmd_env(int argc, char **argv)
{
	char lib[PATH_MAX];
	const char *cur = getenv("LD_PRELOAD");

	if (argc != 1)
		return usage_err("env takes no arguments%s", NULL);
	if (find_shim(lib, sizeof(lib)) < 0)
		return EX_FAIL;
	if (strpbrk(lib, " \t:\n")) {
		fprintf(stderr, "%s: %s: LD_PRELOAD cannot hold a path with spaces or colons\n",
			progname, lib);
		return EX_FAIL;
	}
	fputs("LD_PRELOAD=", stdout);
	if (cur && *cur && !list_has(cur, lib)) {
		char *both;
		if (asprintf(&both, "%s %s", cur, lib) < 0)
			return EX_FAIL;
		put_shell_quoted(stdout, both);
		free(both);
	} else if (cur && *cur) {
		put_shell_quoted(stdout, cur); /* already there: unchanged */
	} else {
		put_shell_quoted(stdout, lib);
	}
	fputs("; export LD_PRELOAD\n", stdout);
	return EX_OK;
}

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256);
		char *q;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(q = realloc(b->p, cap)))
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int is_ours(const char *tok, size_t l, const char *lib)
{
	size_t nl = strlen(SHIM_NAME);

	if (l == strlen(lib) && strncmp(tok, lib, l) == 0)
		return 1;
	/* any copy of the shim, wherever installed (a build tree, another prefix) */
	return l > nl && tok[l - nl - 1] == '/' && strncmp(tok + l - nl, SHIM_NAME, nl) == 0;
}

/* Replaces path with data: a temporary file in the same directory, written,
 * given mode (and old's owner), fsync'd, renamed over path, and the directory
 * fsync'd — a crash leaves the old file or the new one, never a mix. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode,
			const struct stat *old, int quiet_owner)
{
	char tmp[PATH_MAX + 32], dir[PATH_MAX];
	int fd, dfd;

	snprintf(tmp, sizeof(tmp), "%s.hoptrace.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, tmp, strerror(errno));
		return -1;
	}
	if ((len && write(fd, data, len) != (ssize_t)len) || fchmod(fd, mode) < 0 ||
	    (old && fchown(fd, old->st_uid, old->st_gid) < 0 && errno != EPERM) ||
	    fsync(fd) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	(void)quiet_owner;
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Rewrites the preload file: enable adds lib (once), disable removes every
 * libhoptrace.so entry. Other entries are kept as they were. Atomic rename. */
static int edit_preload_locked(const char *lib, int enable)
{
	const char *path = opt.preload_file;
	struct buf in = {0}, outb = {0}, in_copy = {0};
	struct stat st = {0};
	mode_t mode = 0644;
	int found = 0, changed = 0, had_file = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f && errno != ENOENT) {
		fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
		return EX_FAIL;
	}
	if (f) {
		char chunk[4096];
		size_t n;
		had_file = 1;
		if (fstat(fileno(f), &st) == 0)
			mode = st.st_mode & 07777;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			if (buf_add(&in, chunk, n) < 0) {
				fclose(f);
				free(in.p);
				fprintf(stderr, "%s: out of memory\n", progname);
				return EX_FAIL;
			}
		fclose(f);
	}
	if (in.len && buf_add(&in_copy, in.p, in.len) < 0) {
		free(in.p);
		fprintf(stderr, "%s: out of memory\n", progname);
		return EX_FAIL;
	}
	/* line by line; a line may hold several entries (ld.so splits on blanks and ':') */
	for (size_t pos = 0; in.p && pos < in.len;) {
		const char *line = in.p + pos;
		size_t ll = strcspn(line, "\n");
		int nl = pos + ll < in.len;
		int ours = 0, others = 0;

		for (size_t i = 0; i < ll;) {
			size_t s = i + strspn(line + i, " \t:"), e;
			if (s >= ll)
				break;
			e = s + strcspn(line + s, " \t:\n");
			if (e > ll)
				e = ll;
			if (is_ours(line + s, e - s, lib)) {
				ours++;
				if (e - s == strlen(lib) && strncmp(line + s, lib, e - s) == 0)
					found = 1;
			} else {
				others++;
			}
			i = e;
		}
		if (!ours || enable) {
			buf_add(&outb, line, ll + (size_t)nl);
		} else {
			changed = 1;
			if (others) { /* keep the other entries of that line */
				int first = 1;
				for (size_t i = 0; i < ll;) {
					size_t s = i + strspn(line + i, " \t:"), e;
					if (s >= ll)
						break;
					e = s + strcspn(line + s, " \t:\n");
					if (e > ll)
						e = ll;
					if (!is_ours(line + s, e - s, lib)) {
						if (!first)
							buf_add(&outb, " ", 1);
						buf_add(&outb, line + s, e - s);
						first = 0;
					}
					i = e;
				}
				buf_add(&outb, "\n", 1);
			}
		}
		pos += ll + (size_t)nl;
	}
	if (enable && !found) {
		if (outb.len && outb.p[outb.len - 1] != '\n')
			buf_add(&outb, "\n", 1);
		buf_add(&outb, lib, strlen(lib));
		buf_add(&outb, "\n", 1);
		changed = 1;
	}
	free(in.p);
	if (!changed) {
		printf("%s: already %s in %s\n", SHIM_NAME, enable ? "enabled" : "disabled", path);
		free(outb.p);
		free(in_copy.p);
		return EX_OK;
	}
	if (enable && had_file) {
		/* the file as it was, for the operator (and the package's purge) */
		char bak[PATH_MAX + 32];
		snprintf(bak, sizeof(bak), "%s" BACKUP_SUFFIX, path);
		if (write_atomic(bak, in_copy.p, in_copy.len, mode, &st, 1) < 0) {
			free(outb.p);
			free(in_copy.p);
			return EX_FAIL;
		}
		printf("backup: %s\n", bak);
	}
	free(in_copy.p);
	if (write_atomic(path, outb.p, outb.len, mode, had_file ? &st : NULL, 0) < 0) {
		free(outb.p);
		return EX_FAIL;
	}
	free(outb.p);
	if (enable)
		printf("enabled: %s added to %s (new processes load the shim)\n", lib, path);
	else
		printf("disabled: %s removed from %s\n", SHIM_NAME, path);
	return EX_OK;
}

/* Two enables/disables at once must not lose one's change (read, edit,
 * rename): they take turns on an flock of the file's directory. */
static int edit_preload(const char *lib, int enable)
{
	char dir[PATH_MAX];
	int dfd, rc;

	snprintf(dir, sizeof(dir), "%s", opt.preload_file);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && flock(dfd, LOCK_EX) < 0) {
		close(dfd);
		dfd = -1;
	}
	rc = edit_preload_locked(lib, enable);
	if (dfd >= 0)
		close(dfd); /* releases the lock */
	return rc;
}

static int cmd_enable(int argc, char **argv, int enable)
{
	char lib[PATH_MAX];

	if (argc != 1)
		return usage_err("%s takes no arguments (but --preload-file FILE)", argv[0]);
	if (find_shim(lib, sizeof(lib)) < 0) {
		if (enable) {
			fprintf(stderr, "%s: refusing to enable: the shim does not exist\n", progname);
			return EX_FAIL;
		}
		snprintf(lib, sizeof(lib), "/nonexistent/" SHIM_NAME); /* still remove copies */
	}
	if (enable && strpbrk(lib, " \t:\n")) {
		fprintf(stderr, "%s: %s: ld.so.preload cannot hold a path with spaces or colons\n",
			progname, lib);
		return EX_FAIL;
	}
	if (enable) {
		/* every program on the machine will load it: it must be root's alone,
		 * and it must load and run in a fresh process first */
		char err[1024];
		const char *prog = access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true";
		if (shim_path_safe(lib, err, sizeof(err)) < 0 ||
		    shim_probe(lib, prog, PROBE_TIMEOUT_MS, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: refusing to enable %s: %s\n%s: %s unchanged\n", progname,
				lib, err, progname, opt.preload_file);
			return EX_FAIL;
		}
		printf("checked: %s loads and runs (%s with it exited 0 and its constructor "
		       "reported)\n", lib, prog);
	}
	return edit_preload(lib, enable);
}

/* ---- status, metrics ---------------------------------------------------------- */

/* Which running processes carry the shim (their maps), and does the preload
 * file list it. */
static void print_shim_status(void)
{
	char lib[PATH_MAX] = "";
	struct shim_scan sc;
	int have = 0;
	FILE *f;

	if (find_shim(lib, sizeof(lib)) == 0)
		have = 1;
	else
		lib[0] = '\0';
	printf("shim.library: %s\n", have ? lib : "-");
	if ((f = fopen(opt.preload_file, "re"))) {
		char *line = NULL;
		size_t cap = 0;
		int listed = 0, other = 0;
		while (getline(&line, &cap, f) > 0) {
			for (char *p = line; *p;) {
				size_t l;
				p += strspn(p, " \t:\n");
				l = strcspn(p, " \t:\n");
				if (!l)
					break;
				if (have && l == strlen(lib) && strncmp(p, lib, l) == 0)
					listed = 1;
				else if (is_ours(p, l, have ? lib : "/"))
					other = 1;
				p += l;
			}
		}
		free(line);
		fclose(f);
		printf("shim.preload: %s%s (%s)\n", listed ? "enabled" : "disabled",
		       other ? ", another copy listed" : "", opt.preload_file);
	} else {
		printf("shim.preload: disabled (%s: %s)\n", opt.preload_file, strerror(errno));
	}
	if (shim_scan("/proc", have ? lib : NULL, &sc) == 0) {
		printf("shim.processes: %u\n", sc.procs);
		printf("shim.processes_with_shim: %u\n", sc.with_shim);
		if (have)
			printf("shim.processes_with_this_shim: %u\n", sc.with_lib);
		printf("shim.processes_unreadable: %u\n", sc.unreadable);
	}
}

static int cmd_status(int argc, char **argv)
{
	int rc;

	if (argc != 1)
		return usage_err("status takes no arguments%s", NULL);
	if (opt.json)
		return cmd_simple(argc, argv, "status", NULL);
	rc = cmd_simple(argc, argv, "status", chainfmt_status);
	fflush(stdout);
	print_shim_status();
	return rc;
}

static int cmd_metrics(int argc, char **argv)
{
	char *text = NULL, *buf = NULL;
	size_t len = 0;
	int rc = EX_OK;
	struct audit_counts ac = {0};
	cJSON *req, *ans = NULL;
	FILE *mem;

	if (argc != 1)
		return usage_err("metrics takes no arguments (but --output FILE)%s", NULL);
	if ((req = new_req("status")))
		ans = ask(req, &text, &rc);
	cJSON_Delete(ans);
	int have_audit = opt.audit_log[0] && metrics_audit_file(&ac, opt.audit_log) == 0;
	if (opt.audit_log[0] && !have_audit && errno != ENOENT)
		fprintf(stderr, "%s: %s: %s\n", progname, opt.audit_log, strerror(errno));
	if (!(mem = open_memstream(&buf, &len))) {
		free(text);
		return EX_FAIL;
	}
	metrics_write(mem, rc == EX_OK ? text : NULL, have_audit ? &ac : NULL, opt.audit_log);
	fclose(mem);
	free(text);
	if (opt.output) {
		struct stat st;
		int had = stat(opt.output, &st) == 0;
		if (write_atomic(opt.output, buf, len, had ? st.st_mode & 0777 : 0644,
				 had ? &st : NULL, 1) < 0)
			rc = EX_FAIL;
	} else {
		fwrite(buf, 1, len, stdout);
	}
	free(buf);
	/* the file is written either way: hoptrace_collector_up 0 says why */
	return rc;
}

/* ---- main ----------------------------------------------------------------- */

enum { O_JSON = 256, O_PRELOAD, O_DOT, O_TIMEOUT, O_OUTPUT };

static const struct option longopts[] = {
	{"json", no_argument, NULL, O_JSON},
	{"dot", no_argument, NULL, O_DOT},
	{"preload-file", required_argument, NULL, O_PRELOAD},
	{"timeout", required_argument, NULL, O_TIMEOUT},
	{"output", required_argument, NULL, O_OUTPUT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Options are accepted before and after the command (`hoptrace chain 1 --json`).
 * permute == 0: stop at the first word (the command); optind points at it.
 * permute != 0: argv[0] is the command; every other word goes to rest[]. */
static int parse_opts(int argc, char **argv, int permute, char **rest, int *nrest)
{
	int c;

	optind = 0; /* glibc: 0 re-initialises getopt (we parse twice) */
	opterr = 0;
	while ((c = getopt_long(argc, argv, permute ? "-:f:h" : "+:f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 1: /* a word after the command */
			rest[(*nrest)++] = optarg;
			break;
		case 'f':
			opt.conf = optarg;
			opt.conf_given = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EX_OK);
		case O_JSON:
			opt.json = 1;
			break;
		case O_DOT:
			opt.dot = 1;
			break;
		case O_PRELOAD:
			if (!*optarg)
				return usage_err("--preload-file needs a file%s", NULL), -1;
			opt.preload_file = optarg;
			break;
		case O_OUTPUT:
			if (!*optarg)
				return usage_err("--output needs a file%s", NULL), -1;
			opt.output = optarg;
			break;
		case O_TIMEOUT: {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || t <= 0 || t > 600000)
				return usage_err("bad --timeout (milliseconds): %s", optarg), -1;
			opt.timeout_ms = (int)t;
			break;
		}
		case ':':
			return usage_err("option needs an argument: %s", argv[optind - 1]), -1;
		default:
			return usage_err("unknown option: %s", argv[optind - 1]), -1;
		}
	}
	if (permute) /* words after "--" */
		while (optind < argc)
			rest[(*nrest)++] = argv[optind++];
	return 0;
}

int main(int argc, char **argv)
{
	char **rest;
	int nrest = 0;
	const char *cmd;

	/* global options up to the command */
	if (parse_opts(argc, argv, 0, NULL, NULL) < 0)
		return EX_USAGE;
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[optind];
	/* log and policy own their arguments (log has its own -f) */
	if (strcmp(cmd, "log") == 0) {
		/* FILE defaults to the configuration's [guard] audit_log */
		if (load_conf() < 0)
			return EX_USAGE;
		cli_log_default(opt.audit_log);
		return cli_log(argc - optind, argv + optind);
	}
	if (strcmp(cmd, "policy") == 0)
		return cli_policy(argc - optind, argv + optind);
	/* our commands: options may also follow the command words */
	{
		int sub_argc = argc - optind;
		char **sub = argv + optind;
		if (!(rest = calloc((size_t)sub_argc + 1, sizeof(*rest))))
			return EX_FAIL;
		rest[nrest++] = sub[0];
		if (parse_opts(sub_argc, sub, 1, rest, &nrest) < 0)
			return EX_USAGE;
		rest[nrest] = NULL;
	}

	if (strcmp(cmd, "env") == 0)
		return cmd_env(nrest, rest);
	if (strcmp(cmd, "enable") == 0)
		return cmd_enable(nrest, rest, 1);
	if (strcmp(cmd, "disable") == 0)
		return cmd_enable(nrest, rest, 0);
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EX_OK;
	}
	if (strcmp(cmd, "chain") && strcmp(cmd, "who") && strcmp(cmd, "ps") &&
	    strcmp(cmd, "graph") && strcmp(cmd, "status") && strcmp(cmd, "metrics"))
		return usage_err("unknown command: %s", cmd);
	if (load_conf() < 0)
		return EX_USAGE;
	if (strcmp(cmd, "chain") == 0)
		return cmd_chain(nrest, rest);
	if (strcmp(cmd, "who") == 0)
		return cmd_who(nrest, rest);
	if (strcmp(cmd, "ps") == 0)
		return cmd_simple(nrest, rest, "ps", chainfmt_ps);
	if (strcmp(cmd, "graph") == 0)
		return cmd_graph(nrest, rest);
	if (strcmp(cmd, "metrics") == 0)
		return cmd_metrics(nrest, rest);
	return cmd_status(nrest, rest);
}
