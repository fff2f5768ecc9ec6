/* test_status.c - every status code has a name and a description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "klaw/klaw.h"

static void every_status_has_a_distinct_name_and_description(void **state)
{
    (void)state;
    for (int i = 0; i < KLAW_STATUS_COUNT_; i++) {
        const char *d = klaw_strerror((klaw_status)i);
        const char *n = klaw_status_name((klaw_status)i);
        assert_non_null(d);
        assert_non_null(n);
        assert_true(strncmp(n, "KLAW_", 5) == 0);
        assert_string_not_equal(d, "unknown status");
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(n, klaw_status_name((klaw_status)j));
            assert_string_not_equal(d, klaw_strerror((klaw_status)j));
        }
    }
    assert_int_equal(KLAW_OK, 0);
}

static void unknown_status_is_named_not_crashed(void **state)
{
    (void)state;
    assert_string_equal(klaw_strerror((klaw_status)9999), "unknown status");
    assert_string_equal(klaw_status_name((klaw_status)-1), "KLAW_?");
    assert_string_equal(klaw_strerror(KLAW_DECODE), "decode error");
    assert_string_equal(klaw_status_name(KLAW_SYS), "KLAW_SYS");
}

static void version_is_the_projects(void **state)
{
    (void)state;
    assert_string_equal(klaw_version(), KLAW_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_status_has_a_distinct_name_and_description),
        cmocka_unit_test(unknown_status_is_named_not_crashed),
        cmocka_unit_test(version_is_the_projects),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
