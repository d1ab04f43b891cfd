/*
 * test_mask.c - unit tests of strict UTF-8 validation, phone normalisation
 * and character-aware masking (mask.h).
 */
#include "hl/mask.h"

#include <stdint.h>
#include <string.h>

#include "t.h"

static bool valid(const char *s)
{
	return hl_utf8_valid(s, strlen(s));
}

static void test_utf8_valid(void)
{
	T_ASSERT(valid(""));
	T_ASSERT(valid("hello"));
	T_ASSERT(valid("张三 欧阳娜娜"));
	T_ASSERT(valid("\xf0\x9f\x98\x80"));     /* U+1F600 */
	T_ASSERT(valid("\xf4\x8f\xbf\xbf"));     /* U+10FFFF */
	T_ASSERT(valid("\xed\x9f\xbf"));         /* U+D7FF */
	T_ASSERT(valid("\xee\x80\x80"));         /* U+E000 */
	T_ASSERT(valid("\xc2\x80"));             /* U+0080 */
	T_ASSERT(valid("\xe0\xa0\x80"));         /* U+0800 */
	T_ASSERT(valid("\xf0\x90\x80\x80"));     /* U+10000 */
	T_ASSERT(hl_utf8_valid("a\0b", 3));      /* U+0000 is well-formed */
	T_ASSERT(hl_utf8_valid(NULL, 0));
	T_ASSERT(!hl_utf8_valid(NULL, 1));

	T_ASSERT(!valid("\xc0\x80"));            /* overlong NUL */
	T_ASSERT(!valid("\xc1\xbf"));            /* overlong */
	T_ASSERT(!valid("\xe0\x80\x80"));        /* overlong */
	T_ASSERT(!valid("\xe0\x9f\xbf"));        /* overlong */
	T_ASSERT(!valid("\xf0\x80\x80\x80"));    /* overlong */
	T_ASSERT(!valid("\xf0\x8f\xbf\xbf"));    /* overlong */
	T_ASSERT(!valid("\xed\xa0\x80"));        /* surrogate U+D800 */
	T_ASSERT(!valid("\xed\xbf\xbf"));        /* surrogate U+DFFF */
	T_ASSERT(!valid("\xf4\x90\x80\x80"));    /* U+110000 */
	T_ASSERT(!valid("\xf5\x80\x80\x80"));
	T_ASSERT(!valid("\xff"));
	T_ASSERT(!valid("\x80"));                /* lone continuation */
	T_ASSERT(!valid("a\xbf"));
	T_ASSERT(!valid("\xe4\xb8"));            /* truncated 张 */
	T_ASSERT(!valid("\xe5\xbc\xa0\xe4"));
	T_ASSERT(!valid("\xe4\x41\x80"));        /* bad continuation */
	T_ASSERT(!valid("\xf0\x9f\x98\x41"));
	T_ASSERT(!hl_utf8_valid("\xe5\xbc\xa0", 2)); /* cut by length */
}

static void test_utf8_length(void)
{
	T_EQ_INT(hl_utf8_length("", 0), 0);
	T_EQ_INT(hl_utf8_length("abc", 3), 3);
	T_EQ_INT(hl_utf8_length("张三", strlen("张三")), 2);
	T_EQ_INT(hl_utf8_length("a张\xf0\x9f\x98\x80", strlen("a张\xf0\x9f\x98\x80")), 3);
	T_ASSERT(hl_utf8_length("\xc0\x80", 2) == SIZE_MAX);
}

static void expect_phone(hl_arena *a, const char *in, const char *want)
{
	char *out = NULL;
	hl_error err = {0};
	hl_status st = hl_phone_normalize(in, a, &out, &err);
	if (st != HL_OK || !out || strcmp(out, want) != 0) {
		fprintf(stderr, "  phone case %s: %s (%s)\n", in, out ? out : "-", err.msg);
		t_cur_failed = 1;
	}
}

static void expect_phone_invalid(hl_arena *a, const char *in)
{
	char *out = NULL;
	hl_error err = {0};
	hl_status st = hl_phone_normalize(in, a, &out, &err);
	if (st != HL_INVALID || strncmp(err.msg, "phone: ", 7) != 0 || out != NULL) {
		fprintf(stderr, "  phone case should fail: %s\n", in ? in : "(null)");
		t_cur_failed = 1;
	}
	if (in && *in && strstr(err.msg, in)) {
		fprintf(stderr, "  error message leaks the input\n");
		t_cur_failed = 1;
	}
}

static void test_phone_normalize(void)
{
	hl_arena *a = hl_arena_new();
	expect_phone(a, "13812345678", "13812345678");
	expect_phone(a, "138 1234 5678", "13812345678");
	expect_phone(a, "138-1234-5678", "13812345678");
	expect_phone(a, "+86 138 1234 5678", "13812345678");
	expect_phone(a, "+8613812345678", "13812345678");
	expect_phone(a, "008613812345678", "13812345678");
	expect_phone(a, "0086-138-1234-5678", "13812345678");
	expect_phone(a, "8613812345678", "13812345678");
	expect_phone(a, "(010) 6552-9988", "01065529988");
	expect_phone(a, "12345", "12345");
	expect_phone(a, "+44 20 7946 0958", "442079460958");
	expect_phone(a, "12345678901234567890", "12345678901234567890");
	/* 86 in front of something that is not a mobile stays */
	expect_phone(a, "8602165529988", "8602165529988");
	expect_phone_invalid(a, NULL);
	expect_phone_invalid(a, "");
	expect_phone_invalid(a, "1234");
	expect_phone_invalid(a, "123456789012345678901");
	expect_phone_invalid(a, "138.1234.5678");
	expect_phone_invalid(a, "138123456ab");
	expect_phone_invalid(a, "138+12345678");
	expect_phone_invalid(a, "++8613812345678");
	expect_phone_invalid(a, "１３８１２３４５６７８"); /* full-width digits */
	expect_phone_invalid(a, "- - - - -");
	expect_phone_invalid(a, "1                                                                 2");
	hl_arena_free(a);
}

typedef hl_status (*mask_fn)(const char *, hl_arena *, char **, hl_error *);

static int mask_check(mask_fn fn, hl_arena *a, const char *in, const char *want)
{
	char *out = NULL;
	hl_error err = {0};
	if (fn(in, a, &out, &err) != HL_OK || strcmp(out, want) != 0) {
		fprintf(stderr, "  mask \"%s\" -> \"%s\", expected \"%s\" (%s)\n", in ? in : "(null)",
			out ? out : "-", want, err.msg);
		return 0;
	}
	return 1;
}

#define T_MASK(fn, in, want) T_ASSERT(mask_check(fn, a, in, want))

static void test_mask_phone(void)
{
	hl_arena *a = hl_arena_new();
	T_MASK(hl_mask_phone, "13812345678", "138****5678");
	T_MASK(hl_mask_phone, "+86 138-1234-5678", "138****5678");
	T_MASK(hl_mask_phone, "01065529988", "010****9988");
	T_MASK(hl_mask_phone, "12345678", "123*5678");
	T_MASK(hl_mask_phone, "1234567", "*****67");
	T_MASK(hl_mask_phone, "123", "*23");
	T_MASK(hl_mask_phone, "12", "**");
	T_MASK(hl_mask_phone, "", "");
	T_MASK(hl_mask_phone, NULL, "");
	T_MASK(hl_mask_phone, "电话一二三四五六七八", "电话一***五六七八");
	hl_arena_free(a);
}

static void test_mask_name(void)
{
	hl_arena *a = hl_arena_new();
	T_MASK(hl_mask_name, "张三", "张*");
	T_MASK(hl_mask_name, "欧阳娜娜", "欧***");
	T_MASK(hl_mask_name, "王", "*");
	T_MASK(hl_mask_name, "John Smith", "J*********");
	T_MASK(hl_mask_name, "\xf0\xa0\x80\x80\xe5\xbc\xa0", "\xf0\xa0\x80\x80*"); /* U+20000 */
	T_MASK(hl_mask_name, "", "");
	hl_arena_free(a);
}

static void test_mask_id_number(void)
{
	hl_arena *a = hl_arena_new();
	T_MASK(hl_mask_id_number, "110101199003071234", "110***********1234");
	T_MASK(hl_mask_id_number, "11010119900307123X", "110***********123X");
	T_MASK(hl_mask_id_number, "110101900307123", "***********7123"); /* 15 digits */
	T_MASK(hl_mask_id_number, "E1234567", "****4567");
	T_MASK(hl_mask_id_number, "1234567", "***4567");
	T_MASK(hl_mask_id_number, "123456", "******");
	T_MASK(hl_mask_id_number, "", "");
	hl_arena_free(a);
}

static void test_mask_address(void)
{
	hl_arena *a = hl_arena_new();
	T_MASK(hl_mask_address, "北京市朝阳区建国路88号", "北京市朝阳区****");
	T_MASK(hl_mask_address, "上海市浦东新区世纪大道100号3号楼", "上海市浦东新****");
	T_MASK(hl_mask_address, "杭州市西湖区", "杭州市***");
	T_MASK(hl_mask_address, "朝阳区", "朝**");
	T_MASK(hl_mask_address, "家", "*");
	T_MASK(hl_mask_address, "1 Main Street, Springfield", "1 Main****");
	T_MASK(hl_mask_address, "", "");
	hl_arena_free(a);
}

static void test_mask_email(void)
{
	hl_arena *a = hl_arena_new();
	T_MASK(hl_mask_email, "zhangsan@example.com", "z***@example.com");
	T_MASK(hl_mask_email, "ab@example.com", "a***@example.com");
	T_MASK(hl_mask_email, "a@example.com", "***@example.com");
	T_MASK(hl_mask_email, "张三@例子.中国", "张***@例子.中国");
	T_MASK(hl_mask_email, "not-an-email", "************");
	T_MASK(hl_mask_email, "@example.com", "************");
	T_MASK(hl_mask_email, "a@b@example.com", "***************");
	T_MASK(hl_mask_email, "zhang san@example.com", "*********************");
	T_MASK(hl_mask_email, "zhangsan@localhost", "******************");
	T_MASK(hl_mask_email, "zhangsan@example.", "*****************");
	T_MASK(hl_mask_email, "用户", "**");
	hl_arena_free(a);
}

static void test_mask_rejects_invalid_utf8(void)
{
	hl_arena *a = hl_arena_new();
	mask_fn fns[] = {hl_mask_phone, hl_mask_name, hl_mask_id_number, hl_mask_address,
			 hl_mask_email};
	const char *bad[] = {"\xe5\xbc", "\xc0\x80x", "ab\xed\xa0\x80", "\xff\xfe"};
	for (size_t f = 0; f < sizeof fns / sizeof *fns; f++) {
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
			char *out = NULL;
			hl_error err = {0};
			T_EQ_INT(fns[f](bad[i], a, &out, &err), HL_INVALID);
			T_ASSERT(out == NULL);
			T_ASSERT(strstr(err.msg, "invalid UTF-8") != NULL);
		}
	}
	hl_arena_free(a);
}

int main(void)
{
	T_RUN(test_utf8_valid);
	T_RUN(test_utf8_length);
	T_RUN(test_phone_normalize);
	T_RUN(test_mask_phone);
	T_RUN(test_mask_name);
	T_RUN(test_mask_id_number);
	T_RUN(test_mask_address);
	T_RUN(test_mask_email);
	T_RUN(test_mask_rejects_invalid_utf8);
	return T_DONE();
}
