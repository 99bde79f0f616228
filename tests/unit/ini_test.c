/* ini_test.c — common/ini.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hoptrace/ini.h"
#include "test.h"

struct acc {
	char out[8192];
	int n;
	const char *reject_key; /* cb fails on this key */
	int reject_silent;      /* ... without writing a reason */
};

static int acc_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		  size_t errlen)
{
	struct acc *a = ctx;
	size_t l = strlen(a->out);
	if (a->reject_key && strcmp(key, a->reject_key) == 0) {
		if (!a->reject_silent)
			snprintf(err, errlen, "bad %s", key);
		return -1;
	}
	snprintf(a->out + l, sizeof(a->out) - l, "[%s]%s=<%s>\n", sec, key, val);
	a->n++;
	return 0;
}

static int parse(const char *s, struct acc *a, char *err, size_t errlen)
{
	memset(a->out, 0, sizeof(a->out));
	a->n = 0;
	return ini_parse_buf("t.conf", s, strlen(s), acc_cb, a, err, errlen);
}

static void test_good(void)
{
	struct acc a = {0};
	char err[256];
	const char *s = "# top comment\n"
			"; another\n"
			"global = 1\n"
			"\n"
			"[collector]\n"
			"  socket   =   /run/x.sock   \n"
			"window=60s # trailing comment\n"
			"url = http://h/?a=b&c=d ; c\n"
			"hash = a#b;c\n"
			"empty =\n"
			"empty2 = # only a comment\n"
			"\t[ guard ]  # section comment\r\n"
			"mode=enforce\r\n"
			"last = no newline";
	CHECK_EQ_INT(parse(s, &a, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_STR(a.out, "[]global=<1>\n"
			    "[collector]socket=</run/x.sock>\n"
			    "[collector]window=<60s>\n"
			    "[collector]url=<http://h/?a=b&c=d>\n"
			    "[collector]hash=<a#b;c>\n"
			    "[collector]empty=<>\n"
			    "[collector]empty2=<>\n"
			    "[guard]mode=<enforce>\n"
			    "[guard]last=<no newline>\n");
	CHECK_EQ_INT(a.n, 9);
	CHECK_EQ_INT(parse("", &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(a.n, 0);
}

static void test_equals_in_value(void)
{
	struct acc a = {0};
	char err[256];
	CHECK_EQ_INT(parse("[s]\nk = a=b=c\nk2==x\n", &a, err, sizeof(err)), 0);
	CHECK_EQ_STR(a.out, "[s]k=<a=b=c>\n[s]k2=<=x>\n");
}

static void test_duplicate_sections(void)
{
	struct acc a = {0};
	char err[256];
	CHECK_EQ_INT(parse("[a]\nx=1\n[b]\ny=2\n[a]\nz=3\nx=4\n", &a, err, sizeof(err)), 0);
	CHECK_EQ_STR(a.out, "[a]x=<1>\n[b]y=<2>\n[a]z=<3>\n[a]x=<4>\n");
}

static void expect_err(const char *s, const char *want)
{
	struct acc a = {0};
	char err[256];
	CHECK_EQ_INT(parse(s, &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, want);
}

static void test_syntax_errors(void)
{
	expect_err("[a]\nx=1\n\njunk\n", "t.conf:4: expected 'key = value' or '[section]'");
	expect_err("[a\n", "t.conf:1: missing ']' in section header");
	expect_err("x=1\n[a] b\n", "t.conf:2: unexpected text after section header");
	expect_err("\n\n[ ]\n", "t.conf:3: empty section name");
	expect_err("[]\n", "t.conf:1: empty section name");
	expect_err("[a b]\n", "t.conf:1: invalid character in section name");
	expect_err("[a[b]\n", "t.conf:1: invalid character in section name");
	expect_err("[a]\n = v\n", "t.conf:2: missing key before '='");
	expect_err("[a]\nx=1\nbad key = v\n", "t.conf:3: invalid character in key 'bad key'");
	expect_err("k\xc3\xa9y=1\n", "t.conf:1: invalid character in key 'k\xc3\xa9y'");
	/* CRLF files count lines the same */
	expect_err("a=1\r\nb=2\r\noops\r\n", "t.conf:3: expected 'key = value' or '[section]'");
}

static void test_callback_error(void)
{
	struct acc a = {0};
	char err[256];
	a.reject_key = "y";
	CHECK_EQ_INT(parse("[s]\nx=1\n# c\ny=2\nz=3\n", &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "t.conf:4: bad y");
	CHECK_EQ_INT(a.n, 1); /* z never seen */
	a.reject_silent = 1;
	CHECK_EQ_INT(parse("y=2\n", &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "t.conf:1: invalid value for 'y'");
	/* a tiny or absent err buffer is fine */
	CHECK_EQ_INT(parse("y=2\n", &a, err, 4), -1);
	CHECK_EQ_STR(err, "t.c");
	CHECK_EQ_INT(parse("y=2\n", &a, NULL, 0), -1);
}

static void test_long_lines(void)
{
	struct acc a = {0};
	char err[256];
	char *buf = malloc(4096);
	/* exactly 1023 bytes: accepted */
	memset(buf, 'v', 1023);
	memcpy(buf, "k=", 2);
	buf[1023] = '\n';
	buf[1024] = '\0';
	CHECK_EQ_INT(parse(buf, &a, err, sizeof(err)), 0);
	CHECK_EQ_INT(a.n, 1);
	/* 1023 + "\r" still accepted (the CR is not part of the line) */
	memcpy(buf + 1023, "\r\n", 3);
	CHECK_EQ_INT(parse(buf, &a, err, sizeof(err)), 0);
	/* 1024 bytes on line 2: rejected */
	memcpy(buf, "a=1\n", 4);
	memset(buf + 4, 'x', 1024);
	memcpy(buf + 4, "k=", 2);
	memcpy(buf + 4 + 1024, "\nb=2\n", 6);
	CHECK_EQ_INT(parse(buf, &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "t.conf:2: line too long (more than 1023 bytes)");
	/* a very long last line without newline */
	memset(buf, 'y', 4000);
	buf[4000] = '\0';
	CHECK_EQ_INT(parse(buf, &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "t.conf:1: line too long (more than 1023 bytes)");
	free(buf);
}

static void test_nul_bytes(void)
{
	struct acc a = {0};
	char err[256];
	static const char s[] = "a=1\nb=x\0y\nc=3\n";
	a.out[0] = '\0';
	CHECK_EQ_INT(ini_parse_buf("t.conf", s, sizeof(s) - 1, acc_cb, &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "t.conf:2: NUL byte in line");
	CHECK_EQ_INT(a.n, 1);
	static const char s2[] = "\0";
	CHECK_EQ_INT(ini_parse_buf("t.conf", s2, 1, acc_cb, &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "t.conf:1: NUL byte in line");
	/* the length bounds the buffer: nothing past len is read */
	CHECK_EQ_INT(ini_parse_buf("t.conf", "a=1\nb", 3, acc_cb, &a, err, sizeof(err)), 0);
}

static void test_files(void)
{
	struct acc a = {0};
	char err[512], path[] = "/tmp/ini_testXXXXXX";
	int fd = mkstemp(path);
	const char *s = "[x]\nk = v\nbroken\n";
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, s, strlen(s)), (long long)strlen(s));
	close(fd);
	CHECK_EQ_INT(ini_parse(path, acc_cb, &a, err, sizeof(err)), -1);
	char want[600];
	snprintf(want, sizeof(want), "%s:3: expected 'key = value' or '[section]'", path);
	CHECK_EQ_STR(err, want);
	CHECK_EQ_STR(a.out, "[x]k=<v>\n");
	unlink(path);
	CHECK_EQ_INT(ini_parse(path, acc_cb, &a, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CHECK_EQ_STR(err, want);
	CHECK_EQ_INT(ini_parse("/tmp", acc_cb, &a, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "/tmp: Is a directory");
	/* a bigger file read in several chunks */
	strcpy(path, "/tmp/ini_testXXXXXX");
	fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 3000; i++)
		fprintf(f, "[s%d]\nkey%d = value %d\n", i, i, i);
	fclose(f);
	struct acc *b = calloc(1, sizeof(*b));
	CHECK_EQ_INT(ini_parse(path, acc_cb, b, err, sizeof(err)), 0);
	CHECK_EQ_INT(b->n, 3000);
	free(b);
	unlink(path);
}

static void test_helpers(void)
{
	char err[256];
	int b = -1;
	unsigned long long u = 0;
	CHECK_EQ_INT(ini_bool("Yes", &b, err, sizeof(err)), 0);
	CHECK_EQ_INT(b, 1);
	CHECK_EQ_INT(ini_bool("off", &b, err, sizeof(err)), 0);
	CHECK_EQ_INT(b, 0);
	CHECK_EQ_INT(ini_bool("TRUE", &b, err, sizeof(err)), 0);
	CHECK_EQ_INT(b, 1);
	CHECK_EQ_INT(ini_bool("maybe", &b, err, sizeof(err)), -1);
	CHECK(strstr(err, "'maybe' is not a boolean") != NULL);
	CHECK_EQ_INT(ini_bool("", &b, err, sizeof(err)), -1);

	CHECK_EQ_INT(ini_uint("42", 100, &u, err, sizeof(err)), 0);
	CHECK_EQ_INT(u, 42);
	CHECK_EQ_INT(ini_uint("101", 100, &u, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "'101' is too large (at most 100)");
	CHECK_EQ_INT(ini_uint("18446744073709551615", ~0ULL, &u, err, sizeof(err)), 0);
	CHECK(u == ~0ULL);
	CHECK_EQ_INT(ini_uint("18446744073709551616", ~0ULL, &u, err, sizeof(err)), -1);
	CHECK_EQ_INT(ini_uint("-1", 100, &u, err, sizeof(err)), -1);
	CHECK_EQ_INT(ini_uint("", 100, &u, err, sizeof(err)), -1);
	CHECK_EQ_INT(ini_uint("12x", 100, &u, err, sizeof(err)), -1);
	CHECK_EQ_STR(err, "'12x' is not a non-negative integer");
	CHECK_EQ_INT(ini_uint(" 1", 100, &u, err, sizeof(err)), -1);

	CHECK_EQ_INT(ini_duration_ms("60", &u, err, sizeof(err)), 0);
	CHECK_EQ_INT(u, 60000);
	CHECK_EQ_INT(ini_duration_ms("60s", &u, err, sizeof(err)), 0);
	CHECK_EQ_INT(u, 60000);
	CHECK_EQ_INT(ini_duration_ms("500ms", &u, err, sizeof(err)), 0);
	CHECK_EQ_INT(u, 500);
	CHECK_EQ_INT(ini_duration_ms("10m", &u, err, sizeof(err)), 0);
	CHECK_EQ_INT(u, 600000);
	CHECK_EQ_INT(ini_duration_ms("2h", &u, err, sizeof(err)), 0);
	CHECK_EQ_INT(u, 7200000);
	CHECK_EQ_INT(ini_duration_ms("0", &u, err, sizeof(err)), 0);
	CHECK_EQ_INT(u, 0);
	CHECK_EQ_INT(ini_duration_ms("5d", &u, err, sizeof(err)), -1);
	CHECK_EQ_INT(ini_duration_ms("ms", &u, err, sizeof(err)), -1);
	CHECK_EQ_INT(ini_duration_ms("", &u, err, sizeof(err)), -1);
	CHECK_EQ_INT(ini_duration_ms("99999999999999999h", &u, err, sizeof(err)), -1);
	CHECK(strstr(err, "too large") != NULL);
}

T_MAIN("ini", T(test_good), T(test_equals_in_value), T(test_duplicate_sections),
       T(test_syntax_errors), T(test_callback_error), T(test_long_lines), T(test_nul_bytes),
       T(test_files), T(test_helpers))
