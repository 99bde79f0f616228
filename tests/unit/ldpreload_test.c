/*
 * ldpreload_test.c — cli/ldpreload.c: the /etc/ld.so.preload tokenizer that
 * `hoptrace enable`, `disable`, `status` and `env` share, and the edit enable
 * and disable make (what the file becomes; the I/O is tests/func/cli_*.sh's).
 */
#include <stdlib.h>
#include <string.h>

#include "../../cli/ldpreload.h"
#include "test.h"

#define LIB "/usr/lib/hoptrace/libhoptrace.so"

/* The entries of s[0..n), each followed by '|'. */
static void entries(const char *s, size_t n, char *out, size_t outn)
{
	struct ldp_entry e;
	size_t pos = 0, o = 0;

	out[0] = '\0';
	while (ldp_next(s, n, &pos, &e) && o + e.len + 2 < outn) {
		memcpy(out + o, e.p, e.len);
		o += e.len;
		out[o++] = '|';
		out[o] = '\0';
	}
}

#define CHECK_ENTRIES(s, want)                                \
	do {                                                  \
		char _got[512];                               \
		entries((s), strlen(s), _got, sizeof(_got));  \
		CHECK_EQ_STR(_got, want);                     \
	} while (0)

/* ldp_edit on in (len bytes): rc, and the text (the input again when unchanged). */
#define CHECK_EDIT(in, len, lib, add, want_rc, want)                          \
	do {                                                                  \
		char *_o = NULL;                                              \
		size_t _ol = 0;                                               \
		CHECK_EQ_INT(ldp_edit((in), (len), (lib), (add), &_o, &_ol), (want_rc)); \
		if ((want_rc) == 1) {                                         \
			CHECK_EQ_INT(_ol, strlen(want));                      \
			CHECK_EQ_STR(_o, want);                               \
		} else {                                                      \
			CHECK(_o == NULL);                                    \
		}                                                             \
		free(_o);                                                     \
	} while (0)
#define CHECK_ENABLE(in, want_rc, want) CHECK_EDIT(in, strlen(in), LIB, 1, want_rc, want)
#define CHECK_DISABLE(in, want_rc, want) CHECK_EDIT(in, strlen(in), LIB, 0, want_rc, want)

static void tokenizer(void)
{
	CHECK_ENTRIES("", "");
	CHECK_ENTRIES(" \t:: \n\n", "");
	CHECK_ENTRIES("/a.so", "/a.so|");
	/* several entries a line: blanks, tabs and colons, any number of them */
	CHECK_ENTRIES("/a.so /b.so:/c.so\t/d.so \t: /e.so", "/a.so|/b.so|/c.so|/d.so|/e.so|");
	CHECK_ENTRIES("\t/a.so\t:\n:/b.so:\n", "/a.so|/b.so|");
	/* to ldp_next '#' is an ordinary byte (LD_PRELOAD has no comments); file
	 * lines are cut at their '#' first (ldp_uncommented) */
	CHECK_ENTRIES("# /a.so #x\n", "#|/a.so|#x|");
	CHECK_EQ_INT(ldp_uncommented("/a.so # x", 9), 6);
	CHECK_EQ_INT(ldp_uncommented("/a#b", 4), 2);
	CHECK_EQ_INT(ldp_uncommented("/a.so", 5), 5);
	CHECK_EQ_INT(ldp_uncommented("#", 1), 0);
	/* a CR is part of its entry, as for ld.so */
	CHECK_ENTRIES("/a.so\r\n", "/a.so\r|");

	/* bounded: never reads past n, a NUL separates */
	static const char buf[] = {'/', 'a', ' ', '/', 'b', '\0', 'c', 'X', 'Y'};
	char got[64];
	entries(buf, 7, got, sizeof(got));
	CHECK_EQ_STR(got, "/a|/b|c|");
	entries(buf, 4, got, sizeof(got));
	CHECK_EQ_STR(got, "/a|/|");

	/* *pos at the end afterwards, and again 0 */
	struct ldp_entry e;
	size_t pos = 0;
	CHECK_EQ_INT(ldp_next("x  ", 3, &pos, &e), 1);
	CHECK_EQ_INT(pos, 1);
	CHECK_EQ_INT(ldp_next("x  ", 3, &pos, &e), 0);
	CHECK_EQ_INT(pos, 3);
	CHECK_EQ_INT(ldp_next("x  ", 3, &pos, &e), 0);
}

static int shim(const char *s, const char *lib)
{
	struct ldp_entry e = {s, strlen(s)};
	return ldp_is_shim(&e, lib);
}

static void is_shim(void)
{
	CHECK_EQ_INT(shim(LIB, LIB), 1);
	CHECK_EQ_INT(shim("/opt/x/lib/hoptrace/libhoptrace.so", LIB), 1); /* another copy */
	CHECK_EQ_INT(shim("/opt/x/libhoptrace.so", NULL), 1);
	CHECK_EQ_INT(shim("./libhoptrace.so", LIB), 1);       /* relative, with a directory */
	CHECK_EQ_INT(shim("build/libhoptrace.so", LIB), 1);
	CHECK_EQ_INT(shim("libhoptrace.so", LIB), 0);         /* bare name: not a path */
	CHECK_EQ_INT(shim("/libhoptrace.so", LIB), 1);
	CHECK_EQ_INT(shim("/x/notlibhoptrace.so", LIB), 0);
	CHECK_EQ_INT(shim("/x/libhoptrace.so.1", LIB), 0);
	CHECK_EQ_INT(shim("/x/libhoptrace.so/", LIB), 0);
	CHECK_EQ_INT(shim("/usr/lib/other.so", LIB), 0);
	CHECK_EQ_INT(shim("/usr/lib/other.so", NULL), 0);
	/* lib itself may be anything, relative too */
	CHECK_EQ_INT(shim("mylib.so", "mylib.so"), 1);
	CHECK_EQ_INT(shim("mylib.so", "mylib.s"), 0);
}

static void list_has(void)
{
	CHECK_EQ_INT(ldp_list_has(LIB, LIB), 1);
	CHECK_EQ_INT(ldp_list_has("/a.so " LIB, LIB), 1);
	CHECK_EQ_INT(ldp_list_has("/a.so:" LIB ":/b.so", LIB), 1);
	CHECK_EQ_INT(ldp_list_has("/a.so\t" LIB, LIB), 1);
	CHECK_EQ_INT(ldp_list_has(LIB ".1", LIB), 0);
	CHECK_EQ_INT(ldp_list_has("/x" LIB, LIB), 0);
	CHECK_EQ_INT(ldp_list_has("/a b/x.so", LIB), 0);
	CHECK_EQ_INT(ldp_list_has("", LIB), 0);
	CHECK_EQ_INT(ldp_list_has(":::", LIB), 0);
	CHECK_EQ_INT(ldp_list_has(NULL, LIB), 0);
}

static void scan(void)
{
	int listed = 0, other = 0;
	const char *s = "/a.so " LIB "\n";

	ldp_scan(s, strlen(s), LIB, &listed, &other);
	CHECK_EQ_INT(listed, 1);
	CHECK_EQ_INT(other, 0);
	s = "/old/libhoptrace.so:/a.so";
	ldp_scan(s, strlen(s), LIB, &listed, &other);
	CHECK_EQ_INT(listed, 1); /* stays set */
	CHECK_EQ_INT(other, 1);
	listed = other = 0;
	ldp_scan(LIB, strlen(LIB), NULL, &listed, &other); /* the shim not found here */
	CHECK_EQ_INT(listed, 0);
	CHECK_EQ_INT(other, 1);
	listed = other = 0;
	s = "# " LIB; /* a comment, as for ld.so: not listed */
	ldp_scan(s, strlen(s), LIB, &listed, &other);
	CHECK_EQ_INT(listed, 0);
	CHECK_EQ_INT(other, 0);
	s = "/a.so # " LIB "\n" LIB "#x\n"; /* the second line's entry ends at its '#' */
	ldp_scan(s, strlen(s), LIB, &listed, &other);
	CHECK_EQ_INT(listed, 1);
	listed = 0;
	s = "# " LIB "\n/old/libhoptrace.so"; /* comments end at their line */
	ldp_scan(s, strlen(s), LIB, &listed, &other);
	CHECK_EQ_INT(listed, 0);
	CHECK_EQ_INT(other, 1);
}

static void enable(void)
{
	CHECK_ENABLE("", 1, LIB "\n");
	CHECK_ENABLE("\n", 1, "\n" LIB "\n");
	CHECK_ENABLE("/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n", 1,
		     "/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n" LIB "\n");
	/* a file without a trailing newline keeps its last line whole */
	CHECK_ENABLE("/usr/lib/other.so", 1, "/usr/lib/other.so\n" LIB "\n");
	/* already there, alone or among others, tabs and colons around it */
	CHECK_ENABLE(LIB "\n", 0, "");
	CHECK_ENABLE(LIB, 0, "");
	CHECK_ENABLE("\t/keep.so\t:" LIB ": /y/libhoptrace.so\n", 0, "");
	/* listed twice: nothing to add, nothing removed */
	CHECK_ENABLE(LIB "\n" LIB "\n", 0, "");
	/* another copy stays; this one is added */
	CHECK_ENABLE("/old/libhoptrace.so\n", 1, "/old/libhoptrace.so\n" LIB "\n");
	/* named only in a comment: ld.so would not load it, so it is added */
	CHECK_ENABLE("# " LIB "\n", 1, "# " LIB "\n" LIB "\n");
	CHECK_ENABLE("#" LIB "\n", 1, "#" LIB "\n" LIB "\n");
	CHECK_ENABLE("/a.so # " LIB "\n", 1, "/a.so # " LIB "\n" LIB "\n");
	CHECK_ENABLE(LIB " # enabled by hoptrace\n", 0, "");
	/* similar names are not it */
	CHECK_ENABLE(LIB ".1\n/x" LIB "\n", 1, LIB ".1\n/x" LIB "\n" LIB "\n");
	/* CRLF: "LIB\r" is not LIB */
	CHECK_ENABLE(LIB "\r\n", 1, LIB "\r\n" LIB "\n");
	/* a relative lib is matched exactly, like any other */
	CHECK_EDIT("build/libhoptrace.so\n", 21, "build/libhoptrace.so", 1, 0, "");
	CHECK_EDIT("./build/libhoptrace.so\n", 23, "build/libhoptrace.so", 1, 1,
		   "./build/libhoptrace.so\nbuild/libhoptrace.so\n");
}

static void disable(void)
{
	CHECK_DISABLE("", 0, "");
	CHECK_DISABLE("/usr/lib/other.so\n", 0, "");
	CHECK_DISABLE(LIB "\n", 1, "");
	CHECK_DISABLE(LIB, 1, "");
	CHECK_DISABLE("/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n" LIB "\n", 1,
		      "/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n");
	/* every copy, wherever installed, and duplicates */
	CHECK_DISABLE(LIB "\n/a.so\n" LIB "\n/old/prefix/libhoptrace.so\n./libhoptrace.so\n", 1,
		      "/a.so\n");
	/* a shared line keeps its other entries, joined by blanks, and gains a '\n' */
	CHECK_DISABLE("/old/prefix/lib/hoptrace/libhoptrace.so /usr/lib/keep.so", 1,
		      "/usr/lib/keep.so\n");
	CHECK_DISABLE("\t/keep.so\t:" LIB ": /y/libhoptrace.so:/k2.so\n", 1, "/keep.so /k2.so\n");
	/* lines without the shim are kept byte for byte, blank ones too */
	CHECK_DISABLE("\n  \n/a.so\t:/b.so\n" LIB "\n\n", 1, "\n  \n/a.so\t:/b.so\n\n");
	CHECK_DISABLE("::: \n" LIB "\n", 1, "::: \n");
	/* a bare name is not a copy */
	CHECK_DISABLE("libhoptrace.so\n", 0, "");
	CHECK_DISABLE("/x/notlibhoptrace.so /x/libhoptrace.so.1\n", 0, "");
	/* comments: a shim named only in one is not loaded, and stays; a line's
	 * comment stays when its entries go */
	CHECK_DISABLE("# /x/libhoptrace.so /keep.so\n/a.so\n", 0, "");
	CHECK_DISABLE("# comment\n" LIB "\n", 1, "# comment\n");
	CHECK_DISABLE(LIB " # added by hand\n", 1, "# added by hand\n");
	CHECK_DISABLE("/keep.so " LIB " #c " LIB "\n", 1, "/keep.so #c " LIB "\n");
	/* the last line without a newline */
	CHECK_DISABLE("/keep.so\n" LIB, 1, "/keep.so\n");
	/* a relative lib */
	CHECK_EDIT("/a.so mylib.so\n", 15, "mylib.so", 0, 1, "/a.so\n");

	/* a NUL byte ends a line, and is kept with it */
	static const char nul[] = "a\0/x/libhoptrace.so\nb\n";
	char *o = NULL;
	size_t ol = 0;
	CHECK_EQ_INT(ldp_edit(nul, sizeof(nul) - 1, LIB, 0, &o, &ol), 1);
	CHECK_EQ_INT(ol, 4);
	CHECK(o && memcmp(o, "a\0b\n", 4) == 0);
	free(o);
}

/* A 1 MiB line of 40000 entries, the shim among them. */
static void long_line(void)
{
	size_t cap = 1 << 21, n = 0, wn = 0;
	char *in = malloc(cap), *want = malloc(cap), *o = NULL;
	size_t ol = 0;

	for (int i = 0; i < 40000; i++) {
		char ent[64];
		int l = snprintf(ent, sizeof(ent), "/usr/lib/x86_64-linux-gnu/lib%05d.so", i);
		memcpy(in + n, ent, (size_t)l);
		memcpy(want + wn, ent, (size_t)l);
		n += (size_t)l;
		wn += (size_t)l;
		in[n++] = i % 3 ? ' ' : ':';
		want[wn++] = ' ';
		if (i == 20000) {
			memcpy(in + n, LIB "\t", sizeof(LIB));
			n += sizeof(LIB);
		}
	}
	in[n] = '\0';
	want[wn - 1] = '\n';
	want[wn] = '\0';
	CHECK(n > 1000000);
	CHECK_EQ_INT(ldp_edit(in, n, LIB, 1, &o, &ol), 0); /* found in the middle */
	CHECK_EQ_INT(ldp_edit(in, n, LIB, 0, &o, &ol), 1);
	CHECK_EQ_INT(ol, wn);
	CHECK(o && strcmp(o, want) == 0);
	free(o);
	int listed = 0, other = 0;
	ldp_scan(in, n, LIB, &listed, &other);
	CHECK_EQ_INT(listed, 1);
	CHECK_EQ_INT(ldp_list_has(in, LIB), 1);
	free(in);
	free(want);
}

T_MAIN("ldpreload", T(tokenizer), T(is_shim), T(list_has), T(scan), T(enable), T(disable),
       T(long_line))
