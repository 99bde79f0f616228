/*
 * policy_remote_test.c — policy_remote_decide() against a real
 * $BUILD/hoptrace-policyd on 127.0.0.1 over mutual TLS with a fleet CA made by the pki
 * functions (skipped when it is not built): answers, keep-alive, 400, a client of
 * another CA or with no certificate refused, http:// refused without lab_plain; and
 * against fake servers: refused, silent (timeout, TLS), garbled (lab_plain).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/pki.h"
#include "hoptrace/policy_remote.h"
#include "test.h"

static char dir[] = "/tmp/prt_XXXXXX";

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	bind(s, (struct sockaddr *)&a, sizeof a);
	getsockname(s, (struct sockaddr *)&a, &l);
	close(s);
	return ntohs(a.sin_port);
}

static int listener(int *port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	bind(s, (struct sockaddr *)&a, sizeof a);
	listen(s, 8);
	getsockname(s, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return s;
}

static void wfile(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static const char ANS_SSH[] =
	"{\"ok\":true,\"chains\":[{\"origin_host\":\"h1\",\"src\":\"10.0.0.1:5000\","
	"\"dst\":\"10.0.0.3:22\",\"complete\":true,\"fallback\":false,\"procs\":"
	"[{\"host\":\"h1\",\"pid\":7,\"exe\":\"/usr/bin/ssh\",\"sha256\":\"\"}]}]}";
static const char ANS_NC[] =
	"{\"chains\":[{\"origin_host\":\"h1\",\"src\":\"10.0.0.1:5000\","
	"\"dst\":\"10.0.0.3:22\",\"complete\":true,\"fallback\":false,\"procs\":"
	"[{\"host\":\"h1\",\"pid\":7,\"exe\":\"/usr/bin/nc.openbsd\",\"sha256\":\"\"}]}]}";

static struct policy_fleet fleet_of(const char *ca_dir, const char *host, int lab_plain)
{
	struct policy_fleet pf;
	memset(&pf, 0, sizeof pf);
	snprintf(pf.ca, sizeof pf.ca, "%s/ca.crt", ca_dir);
	snprintf(pf.cert, sizeof pf.cert, "%s/%s.crt", ca_dir, host);
	snprintf(pf.key, sizeof pf.key, "%s/%s.key", ca_dir, host);
	snprintf(pf.crl, sizeof pf.crl, "%s/crl.pem", ca_dir);
	pf.lab_plain = lab_plain;
	return pf;
}

static void against_policyd(void)
{
	const char *b = getenv("BUILD") ? getenv("BUILD") : "build";
	char bin[512], conf[512], url[128], fleet[300], other[300], err[256] = "";
	snprintf(bin, sizeof bin, "%s/hoptrace-policyd", b);
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "    (%s not built: skipped)\n", bin);
		return;
	}
	snprintf(fleet, sizeof fleet, "%s/fleet", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	char *lo[] = {"127.0.0.1"};
	if (pki_ca_init(fleet, 3650, err, sizeof err) ||
	    pki_issue(fleet, "pd", lo, 1, 30, NULL, err, sizeof err) ||
	    pki_issue(fleet, "g", lo, 1, 30, NULL, err, sizeof err) ||
	    pki_ca_init(other, 3650, err, sizeof err) ||
	    pki_issue(other, "g", lo, 1, 30, NULL, err, sizeof err)) {
		fprintf(stderr, "    pki: %s\n", err);
		CHECK(!"pki set-up");
		return;
	}
	int port = free_port();
	char text[2048];
	wfile("p.acl", "10.0.0.1, *, 10.0.0.3, 22, black, nc, drop\n");
	snprintf(text, sizeof text,
		 "[policyd]\nlisten = https://127.0.0.1:%d\npolicy = %s/p.acl\n%s"
		 "[fleet]\nca = %s/ca.crt\ncert = %s/pd.crt\nkey = %s/pd.key\ncrl = %s/crl.pem\n",
		 port, dir, geteuid() == 0 ? "user = nobody\n" : "", fleet, fleet, fleet, fleet);
	wfile("c.conf", text);
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	pid_t pid = fork();
	if (pid == 0) {
		execl(bin, bin, "-d", "-f", conf, (char *)NULL);
		_exit(127);
	}
	snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/decide", port);
	struct policy_fleet pf = fleet_of(fleet, "g", 0);
	policy_remote_set_fleet(&pf);
	enum acl_verdict v = ACL_ACCEPT;
	char why[512];
	int rc = -1;
	for (int i = 0; i < 50 && rc != 0; i++) {
		rc = policy_remote_decide(url, 500, ANS_SSH, strlen(ANS_SSH), &v, why,
					  sizeof why);
		if (rc)
			usleep(100000);
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(v, ACL_ACCEPT);
	CHECK(strstr(why, "p.acl:1") != NULL);
	/* the same handle again (keep-alive), a refusal with drop */
	CHECK_EQ_INT(policy_remote_decide(url, 500, ANS_NC, strlen(ANS_NC), &v, why,
					  sizeof why), 0);
	CHECK_EQ_INT(v, ACL_DROP);
	CHECK(strstr(why, "black list") != NULL);
	/* a malformed body: -1 with the reason */
	CHECK_EQ_INT(policy_remote_decide(url, 500, "{x", 2, &v, why, sizeof why), -1);
	CHECK(strstr(why, "400") != NULL);
	/* with a socket mark (needs CAP_NET_ADMIN) */
	if (geteuid() == 0) {
		policy_remote_set_mark(0x4854);
		policy_remote_thread_cleanup(); /* new connection: the mark applies */
		CHECK_EQ_INT(policy_remote_decide(url, 500, ANS_SSH, strlen(ANS_SSH), &v,
						  why, sizeof why), 0);
		policy_remote_set_mark(0);
	}
	/* another CA's client: TLS refused; the server is not in *its* fleet either */
	policy_remote_thread_cleanup();
	pf = fleet_of(other, "g", 0);
	policy_remote_set_fleet(&pf);
	CHECK_EQ_INT(policy_remote_decide(url, 500, ANS_SSH, strlen(ANS_SSH), &v, why,
					  sizeof why), -1);
	CHECK(strstr(why, "not in fleet") != NULL);
	/* the fleet's CA but no certificate of ours */
	pf = fleet_of(fleet, "g", 0);
	snprintf(pf.cert, sizeof pf.cert, "%s/none.crt", fleet);
	policy_remote_set_fleet(&pf);
	CHECK_EQ_INT(policy_remote_decide(url, 500, ANS_SSH, strlen(ANS_SSH), &v, why,
					  sizeof why), -1);
	/* plain http:// only with lab_plain */
	pf = fleet_of(fleet, "g", 0);
	policy_remote_set_fleet(&pf);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/decide", port);
	CHECK_EQ_INT(policy_remote_decide(url, 500, ANS_SSH, strlen(ANS_SSH), &v, why,
					  sizeof why), -1);
	CHECK(strstr(why, "lab_plain") != NULL);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	policy_remote_thread_cleanup();
}

static void unreachable(void)
{
	char url[128], why[256];
	enum acl_verdict v;
	snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/decide", free_port());
	CHECK_EQ_INT(policy_remote_decide(url, 300, "{}", 2, &v, why, sizeof why), -1);
	CHECK(why[0] != 0);
}

static void *silent_srv(void *arg)
{
	int s = *(int *)arg;
	int c = accept(s, NULL, NULL);
	sleep(2);
	if (c >= 0)
		close(c);
	return NULL;
}

static void timeout(void)
{
	int port, s = listener(&port);
	pthread_t t;
	pthread_create(&t, NULL, silent_srv, &s);
	char url[128], why[256];
	enum acl_verdict v;
	snprintf(url, sizeof url, "https://127.0.0.1:%d/v1/decide", port);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_EQ_INT(policy_remote_decide(url, 300, "{}", 2, &v, why, sizeof why), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	CHECK(ms < 1500);
	CHECK(strstr(why, "imeout") != NULL || strstr(why, "timed out") != NULL);
	pthread_join(t, NULL);
	close(s);
	policy_remote_thread_cleanup();
}

static void *garble_srv(void *arg)
{
	int s = *(int *)arg;
	int c = accept(s, NULL, NULL);
	char buf[4096];
	if (c < 0)
		return NULL;
	usleep(50000);
	(void)!read(c, buf, sizeof buf);
	const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"verdict\":\"yes\"}";
	(void)!write(c, r, sizeof r - 1);
	close(c);
	return NULL;
}

static void garbled(void)
{
	int port, s = listener(&port);
	pthread_t t;
	pthread_create(&t, NULL, garble_srv, &s);
	char url[128], why[256];
	enum acl_verdict v;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/decide", port);
	struct policy_fleet pf;
	policy_fleet_defaults(&pf);
	pf.lab_plain = 1;
	policy_remote_set_fleet(&pf);
	CHECK_EQ_INT(policy_remote_decide(url, 1000, "{}", 2, &v, why, sizeof why), -1);
	CHECK(strstr(why, "garbled") != NULL);
	pthread_join(t, NULL);
	close(s);
	policy_remote_thread_cleanup();
}

int main(void)
{
	static const struct t_case cases[] = {T(against_policyd), T(unreachable), T(timeout),
					      T(garbled)};
	if (!mkdtemp(dir))
		return 1;
	int r = t_run("policy_remote", cases, sizeof cases / sizeof cases[0]);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	(void)!system(cmd);
	return r;
}
