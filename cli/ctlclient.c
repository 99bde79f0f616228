/*
 * ctlclient.c — implements ctlclient.h with nng REQ0 over ipc://.
 * The dial is synchronous (no NNG_FLAG_NONBLOCK), so a missing or dead
 * collector is reported at once instead of after the receive timeout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "ctlclient.h"

static void seterr(char *err, size_t errlen, const char *what, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s", what ? what : "", what ? ": " : "", why);
}

/* A more useful reason than nng's for a failed ipc dial. */
static const char *dial_reason(const char *path, int rv)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return strerror(errno);
	if (!S_ISSOCK(st.st_mode))
		return "not a socket";
	if (rv == NNG_ECONNREFUSED)
		return "Connection refused (collector not running?)";
	if (rv == NNG_EPERM)
		return "Permission denied (the control socket is for root only)";
	return nng_strerror(rv);
}

enum ht_qerr ctl_request(const char *control_path, const char *req_json, char **answer,
			 int timeout_ms, char *err, size_t errlen)
{
	nng_socket s;
	char url[4096 + 8];
	char *buf = NULL;
	size_t sz = 0;
	enum ht_qerr e = HT_QE_UNREACHABLE;
	int rv;

	if (answer)
		*answer = NULL;
	if (!control_path || !*control_path || !req_json || !answer) {
		seterr(err, errlen, NULL, "invalid arguments");
		return HT_QE_UNREACHABLE;
	}
	if (strlen(control_path) > 4096) {
		seterr(err, errlen, NULL, "control path too long");
		return HT_QE_UNREACHABLE;
	}
	if (timeout_ms <= 0)
		timeout_ms = CTL_TIMEOUT_MS;
	snprintf(url, sizeof(url), "ipc://%s", control_path);

	if ((rv = nng_req0_open(&s)) != 0) {
		seterr(err, errlen, "nng_req0_open", nng_strerror(rv));
		return HT_QE_UNREACHABLE;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, CTL_ANSWER_MAX);

	if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
		seterr(err, errlen, NULL, dial_reason(control_path, rv));
		goto fail;
	}
	if ((rv = nng_send(s, (void *)req_json, strlen(req_json), 0)) != 0) {
		seterr(err, errlen, "send", nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_recv(s, &buf, &sz, NNG_FLAG_ALLOC)) != 0) {
		seterr(err, errlen, "no answer",
		       rv == NNG_ETIMEDOUT ? "Timed out" : nng_strerror(rv));
		e = rv == NNG_ETIMEDOUT ? HT_QE_TIMEOUT : HT_QE_CLOSED;
		goto fail;
	}
	*answer = malloc(sz + 1);
	if (!*answer) {
		nng_free(buf, sz);
		seterr(err, errlen, NULL, "out of memory");
		goto fail;
	}
	if (sz) /* an empty answer may come as buf NULL */
		memcpy(*answer, buf, sz);
	(*answer)[sz] = '\0';
	nng_free(buf, sz);
	nng_close(s);
	return HT_QE_OK;
fail:
	nng_close(s);
	return e;
}
