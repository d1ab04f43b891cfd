/*
 * t.h - the tiny unit-test harness used by tests/unit/test_*.c.
 *
 * A test file defines static void test_xxx(void) functions and a main() that
 * calls T_RUN(test_xxx) for each, then returns T_DONE().  Assertions record a
 * failure with file and line and return from the test function.  The summary
 * line "N passed, N failed" is what CI reads.
 */
#ifndef HL_T_H
#define HL_T_H

#include <stdio.h>
#include <string.h>

static int t_passed, t_failed, t_cur_failed;

#define T_FAILF(...)                                                          \
	do {                                                                  \
		fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);        \
		fprintf(stderr, __VA_ARGS__);                                 \
		fputc('\n', stderr);                                          \
		t_cur_failed = 1;                                             \
		return;                                                       \
	} while (0)

#define T_ASSERT(c)                                                           \
	do {                                                                  \
		if (!(c))                                                     \
			T_FAILF("assertion failed: %s", #c);                  \
	} while (0)

#define T_EQ_INT(a, b)                                                        \
	do {                                                                  \
		long long t_a = (long long)(a), t_b = (long long)(b);         \
		if (t_a != t_b)                                               \
			T_FAILF("%s == %lld, expected %s == %lld", #a, t_a, #b, t_b); \
	} while (0)

#define T_EQ_STR(a, b)                                                        \
	do {                                                                  \
		const char *t_a = (a), *t_b = (b);                            \
		if (!t_a || !t_b || strcmp(t_a, t_b) != 0)                    \
			T_FAILF("%s == \"%s\", expected \"%s\"", #a,          \
				t_a ? t_a : "(null)", t_b ? t_b : "(null)");  \
	} while (0)

#define T_RUN(fn)                                                             \
	do {                                                                  \
		t_cur_failed = 0;                                             \
		fn();                                                         \
		if (t_cur_failed) {                                           \
			t_failed++;                                           \
			fprintf(stderr, "not ok %s\n", #fn);                  \
		} else {                                                      \
			t_passed++;                                           \
			fprintf(stderr, "ok %s\n", #fn);                      \
		}                                                             \
	} while (0)

#define T_DONE()                                                              \
	(printf("%d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
