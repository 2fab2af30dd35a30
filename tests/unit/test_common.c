/* test_common.c: unit tests for the small helpers every layer shares (common/). */
#include "check.h"

/* hs_parse_u64: the whole string, checked for junk, sign and overflow. */
static void test_parse_u64(void)
{
	uint64_t v = 0;
	CHECK(hs_parse_u64("0x10", &v) && v == 16);
	CHECK(hs_parse_u64("18446744073709551615", &v) && v == UINT64_MAX);
	CHECK(!hs_parse_u64("18446744073709551616", &v));
	CHECK(!hs_parse_u64("", &v));
	CHECK(!hs_parse_u64("12k", &v));
	CHECK(!hs_parse_u64("-1", &v));
}

/* hs_one_line: control characters become '?', everything else stays. */
static void test_one_line(void)
{
	char s[] = "a\nb\tc\x7f\x1b[0m\xc3\xa9";
	hs_one_line(s);
	CHECK(strcmp(s, "a?b?c??[0m\xc3\xa9") == 0);
}

int main(void)
{
	test_parse_u64();
	test_one_line();
	return check_summary("test_common");
}
