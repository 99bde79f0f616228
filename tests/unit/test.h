/*
 * test.h — a tiny unit-test harness: a table of test functions, CHECK()
 * records a failure and goes on, the runner prints one line per test and
 * "N passed, N failed" at the end, and exits non-zero on any failure.
 */
#ifndef HT_TEST_H
#define HT_TEST_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "    %s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                              \
			t_failed_checks++;                                     \
		}                                                              \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                      \
	do {                                                                    \
		long long _a = (long long)(a), _b = (long long)(b);             \
		if (_a != _b) {                                                 \
			fprintf(stderr, "    %s:%d: %s == %lld, expected %lld\n",   \
				__FILE__, __LINE__, #a, _a, _b);                \
			t_failed_checks++;                                      \
		}                                                               \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                        \
	do {                                                                      \
		const char *_a = (a), *_b = (b);                                  \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                          \
			fprintf(stderr, "    %s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, _a ? _a : "(null)",       \
				_b ? _b : "(null)");                              \
			t_failed_checks++;                                        \
		}                                                                 \
	} while (0)

struct t_case {
	const char *name;
	void (*fn)(void);
};

static inline int t_run(const char *suite, const struct t_case *cases, size_t n)
{
	int passed = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		int before = t_failed_checks;
		cases[i].fn();
		if (t_failed_checks == before) {
			passed++;
			printf("ok   %s/%s\n", suite, cases[i].name);
		} else {
			failed++;
			printf("FAIL %s/%s\n", suite, cases[i].name);
		}
	}
	printf("%s: %d passed, %d failed\n", suite, passed, failed);
	return failed ? 1 : 0;
}

#define T_MAIN(suite, ...)                                                        \
	int main(void)                                                            \
	{                                                                         \
		static const struct t_case cases[] = {__VA_ARGS__};               \
		return t_run(suite, cases, sizeof(cases) / sizeof(cases[0]));     \
	}
#define T(fn) {#fn, fn}

#endif
