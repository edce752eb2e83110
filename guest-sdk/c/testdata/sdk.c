/*
 * sdk.c — a test module for the C SDK (guest-sdk/c/c_test.go builds it with clang and runs its
 * collectors through the CLI). Between them the collectors call every ABI v1 function. A check
 * that fails inside the guest logs "SDK CHECK FAILED: …" at error level; the test looks for it.
 */
#include "wasmcollector.h"

#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        if (!(cond)) wc_logf(WC_LOG_ERROR, "SDK CHECK FAILED: line %d: %s", __LINE__, #cond);         \
    } while (0)

/* ---- a JSON builder -------------------------------------------------------------------------- */

static char out[1 << 16];
static size_t outn;

static void put(const char *s, size_t n) {
    if (outn + n > sizeof out) n = sizeof out - outn;
    memcpy(out + outn, s, n);
    outn += n;
}

static void puts_(const char *s) { put(s, strlen(s)); }

static void putf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void putf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + outn, sizeof out - outn, fmt, ap);
    va_end(ap);
    if (n > 0) outn += (size_t)n < sizeof out - outn ? (size_t)n : sizeof out - outn - 1;
}

/* put_str writes s as a JSON string. */
static void put_str(const char *s) {
    puts_("\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(e, 2);
        } else if (c < 0x20) {
            putf("\\u%04x", c);
        } else {
            put((const char *)&c, 1);
        }
    }
    puts_("\"");
}

static int32_t emit(void) {
    wc_status st = wc_emit_json(out, outn);
    CHECK(st == WC_OK);
    return st == WC_OK ? 0 : 1;
}

/* ---- JSON collectors ------------------------------------------------------------------------- */

/* config: the config collector gets no slice. */
WC_EXPORT("config") int32_t config(void) {
    outn = 0;
    wc_slice_info s;
    CHECK(wc_slice(&s) == WC_OK);
    putf("{\"collection_type\":\"%s\",\"has_since\":%s,\"has_until\":%s}",
         wc_collection_type_name(wc_collection_type()), s.has_since ? "true" : "false", s.has_until ? "true" : "false");
    return emit();
}

/* reads: parameters, the slice, the time formatter. */
WC_EXPORT("reads") int32_t reads(void) {
    outn = 0;
    char buf[256];
    size_t n = 99;

    putf("{\"collection_type\":\"%s\"", wc_collection_type_name(wc_collection_type()));

    CHECK(wc_param("name", buf, sizeof buf, &n) == WC_OK);
    CHECK(n == strlen(buf));
    puts_(",\"name\":");
    put_str(buf);

    wc_status st = wc_param("count", buf, 3, &n); /* "42" and its NUL fit in 3 */
    CHECK(st == WC_OK);
    putf(",\"count\":\"%s\"", buf);
    st = wc_param("count", buf, 2, &n); /* ... but not in 2 */
    putf(",\"count_small\":\"%s\",\"count_len\":%u", wc_status_name(st), (unsigned)n);
    st = wc_param("count", NULL, 0, &n);
    CHECK(st == WC_BUFFER_TOO_SMALL && n == 2);

    st = wc_param("missing", buf, sizeof buf, &n);
    putf(",\"missing\":\"%s\"", wc_status_name(st));
    CHECK(wc_param_dup("missing", NULL) == NULL);

    char *lng = wc_param_dup("long", &n);
    CHECK(lng != NULL && n == strlen(lng));
    puts_(",\"long\":");
    put_str(lng ? lng : "");
    free(lng);

    st = wc_params_json(buf, 8, &n);
    CHECK(st == WC_BUFFER_TOO_SMALL);
    char *all = (char *)malloc(n + 1);
    CHECK(wc_params_json(all, n + 1, &n) == WC_OK);
    putf(",\"params\":%s", all);
    free(all);

    wc_slice_info s;
    CHECK(wc_slice(&s) == WC_OK);
    char t[WC_RFC3339_SIZE];
    putf(",\"has_since\":%s,\"has_until\":%s,\"full_sync\":%s", s.has_since ? "true" : "false",
         s.has_until ? "true" : "false", s.full_sync ? "true" : "false");
    putf(",\"since_ns\":%lld,\"until_ns\":%lld", (long long)s.since, (long long)s.until);
    wc_format_rfc3339(s.since, t, -1);
    putf(",\"since\":\"%s\"", t);
    wc_format_rfc3339(s.until, t, 3);
    putf(",\"until_ms\":\"%s\"", t);

    /* A log line longer than wc_logf's 1 KiB buffer, of two-byte characters placed so that the
     * cut falls inside one: the SDK must cut at a character boundary, or the host logs U+FFFD. */
    char big[1500];
    big[0] = 'x';
    for (size_t i = 1; i + 1 < sizeof big; i += 2) big[i] = (char)0xC3, big[i + 1] = (char)0xA9; /* é */
    big[sizeof big - 1] = 0;
    CHECK(wc_logf(WC_LOG_DEBUG, "%s", big) == WC_OK);
    CHECK(wc_logf(WC_LOG_DEBUG, "x%s", big) == WC_OK);
    CHECK(wc_log(42, "bad level", 9) == WC_INVALID);
    CHECK(wc_log_str(WC_LOG_INFO, "reads: done") == WC_OK);
    puts_("}");
    return emit();
}

/* query: db_query, db_result, last_error; db_query_rows, db_rows_next. */
WC_EXPORT("query") int32_t query(void) {
    outn = 0;
    size_t n = 0, m = 0;
    wc_status st = wc_query("db", "SELECT id, name FROM t WHERE id > @after ORDER BY id", "{\"after\": 1}", &n);
    CHECK(st == WC_OK && n > 0);
    char small[8];
    st = wc_query_result(small, sizeof small, &m);
    CHECK(st == WC_BUFFER_TOO_SMALL && m == n);
    char *res = (char *)malloc(n + 1);
    CHECK(wc_query_result(res, n + 1, &m) == WC_OK && m == n);
    putf("{\"result\":%s", res);
    free(res);

    char err[512];
    CHECK(wc_last_error(err, sizeof err, &m) == WC_NOT_FOUND);
    st = wc_query("db", "SELECT nope FROM missing_table", NULL, NULL);
    putf(",\"bad\":\"%s\"", wc_status_name(st));
    CHECK(wc_last_error(err, sizeof err, &m) == WC_OK && m == strlen(err));
    puts_(",\"error\":");
    put_str(err);

    /* The same rows through the row cursor. */
    wc_rows r;
    CHECK(wc_query_rows(&r, "db", "SELECT id, name FROM t WHERE id > @after ORDER BY id", "{\"after\": 1}") == WC_OK);
    size_t cn = 0;
    CHECK(wc_rows_columns(&r) == 2 && wc_rows_column_type(&r, 0) == WC_TAG_INT && wc_rows_column_type(&r, 1) == WC_TAG_TEXT);
    CHECK(memcmp(wc_rows_column_name(&r, 1, &cn), "name", 4) == 0 && cn == 4);
    puts_(",\"cursor\":[");
    for (int i = 0; wc_rows_next(&r); i++) {
        size_t tn = 0;
        const char *text = wc_rows_text(&r, 1, &tn);
        putf("%s[%lld,\"%.*s\"]", i ? "," : "", (long long)wc_rows_int64(&r, 0), (int)tn, text);
        CHECK(wc_rows_tag(&r, 0) == WC_TAG_INT && !wc_rows_is_null(&r, 1) && wc_rows_text(&r, 0, &tn) == NULL);
    }
    puts_("]");
    CHECK(wc_rows_status(&r) == WC_OK && !wc_rows_next(&r));
    wc_rows_close(&r);
    wc_rows_close(&r);
    CHECK(wc_query_rows(&r, "other", "SELECT 1", NULL) == WC_DENIED && !wc_rows_next(&r));
    wc_rows_close(&r);

    /* Go's float form. */
    static const struct { double v; const char *s; } floats[] = {
        {1.5, "1.5"}, {1e6, "1e+06"}, {123456, "123456"}, {0.0001, "0.0001"}, {0.00001, "1e-05"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {-0.5, "-0.5"}, {0, "0"}, {100, "100"},
        {0.30000000000000004, "0.30000000000000004"}, {1.0 / 0.0, "+Inf"}, {-1.0 / 0.0, "-Inf"},
    };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        char d[32];
        size_t n = wc_format_float(d, floats[i].v);
        CHECK(n == strlen(floats[i].s) && memcmp(d, floats[i].s, n) == 0);
    }

    st = wc_query("other", "SELECT 1", NULL, NULL);
    putf(",\"denied\":\"%s\"}", wc_status_name(st));
    return emit();
}

/* ---- CSV collectors -------------------------------------------------------------------------- */

/* stream: db_stream_csv writes the header and rows (db_stream_csv_transform none); the writer
 * appends rows under that header. */
WC_EXPORT("stream") int32_t stream(void) {
    uint64_t rows = 0;
    wc_status st = wc_stream_csv("db", "SELECT id, name FROM t ORDER BY id", NULL, &rows);
    CHECK(st == WC_OK && rows == 3);
    /* The transforming stream: the same header (a spec naming a column it leaves alone), no rows. */
    st = wc_stream_csv_transform("db", "SELECT id, name FROM t WHERE id > 99", NULL, "[{\"column\": \"name\"}]", &rows);
    CHECK(st == WC_OK && rows == 0);
    wc_csv w;
    wc_csv_init(&w, NULL, 0);
    wc_csv_field_i64(&w, 99);
    wc_csv_field_str(&w, "tail, \"quoted\"");
    CHECK(wc_csv_end_row(&w) == WC_OK);
    static const char *const row[] = {"100", NULL};
    CHECK(wc_csv_row(&w, row, 2) == WC_OK);
    CHECK(wc_csv_rows(&w) == 2);
    return wc_csv_flush(&w) == WC_OK ? 0 : 1;
}

static uint64_t rng = 0x243f6a8885a308d3u;

static uint64_t next(void) { /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1du;
}

/* formats: every field kind over edge and random values, through a buffer of param cap bytes (small
 * caps force a batch per row or two). */
WC_EXPORT("formats") int32_t formats(void) {
    static char buf[1 << 16];
    char v[32];
    size_t cap = sizeof buf;
    if (wc_param("cap", v, sizeof v, NULL) == WC_OK) cap = (size_t)atoi(v);
    wc_csv w;
    wc_csv_init(&w, buf, cap);
    static const char *const cols[] = {"ns", "u64", "bool", "nano", "sec", "milli", "micro", "nine",
                                       "dec3", "dec0", "dec18", "null", "empty", "text"};
    if (wc_csv_header(&w, cols, sizeof cols / sizeof cols[0]) != WC_OK) return 1;
    static const int64_t edges[] = {0, 1, -1, 999999999, -999999999, 1000000000, -1000000000, INT64_MIN, INT64_MAX,
                                    951782400000000000, 951868799999999999, 4107542400000000000, -2208988800000000000,
                                    1795651200123456789, 86399999999999, -86400000000000};
    int nedges = (int)(sizeof edges / sizeof edges[0]);
    for (int i = 0; i < nedges + 2000; i++) {
        int64_t ns = i < nedges ? edges[i] : (int64_t)next();
        if (i >= nedges && i % 3 == 0) ns /= 1000000; /* some nearer the epoch */
        wc_csv_field_i64(&w, ns);
        wc_csv_field_u64(&w, (uint64_t)ns);
        wc_csv_field_bool(&w, ns & 1);
        wc_csv_field_time(&w, ns, -1);
        wc_csv_field_time(&w, ns, 0);
        wc_csv_field_time(&w, ns, 3);
        wc_csv_field_time(&w, ns, 6);
        wc_csv_field_time(&w, ns, 9);
        wc_csv_field_decimal(&w, ns, 3);
        wc_csv_field_decimal(&w, ns, 0);
        wc_csv_field_decimal(&w, ns, 18);
        wc_csv_field_null(&w);
        wc_csv_field(&w, "", 0);
        wc_csv_field_str(&w, "a,b \"c\"\nd\r\né");
        if (wc_csv_end_row(&w) != WC_OK) return 1;
    }
    CHECK(wc_csv_rows(&w) == nedges + 2000);
    return wc_csv_flush(&w) == WC_OK ? 0 : 1;
}

static const char *const abc[] = {"a", "b", "c"};

/* bad_count: the third row has two fields; the host refuses it and the writer stays failed. */
WC_EXPORT("bad_count") int32_t bad_count(void) {
    wc_csv w;
    wc_csv_init(&w, NULL, 0);
    CHECK(wc_csv_header(&w, abc, 3) == WC_OK);
    CHECK(wc_csv_row(&w, abc, 3) == WC_OK);
    CHECK(wc_csv_row(&w, abc, 3) == WC_OK);
    wc_csv_begin_row(&w);
    wc_csv_field_str(&w, "x");
    wc_csv_field_str(&w, "y");
    CHECK(wc_csv_end_row(&w) == WC_INVALID);
    CHECK(wc_csv_row(&w, abc, 3) == WC_INVALID); /* sticky */
    CHECK(wc_csv_flush(&w) == WC_INVALID);
    return 0; /* the refusal fails the invocation even so */
}

/* before_header: a row without a header. */
WC_EXPORT("before_header") int32_t before_header(void) {
    wc_csv w;
    wc_csv_init(&w, NULL, 0);
    CHECK(wc_csv_row(&w, abc, 3) == WC_WRONG_STATE);
    return 1;
}

/* second_header: the host refuses a second header. */
WC_EXPORT("second_header") int32_t second_header(void) {
    wc_csv w;
    wc_csv_init(&w, NULL, 0);
    CHECK(wc_csv_header(&w, abc, 3) == WC_OK);
    CHECK(wc_csv_row(&w, abc, 3) == WC_OK);
    CHECK(wc_csv_header(&w, abc, 3) == WC_WRONG_STATE);
    return 1;
}

/* open_row: flushing with a row open fails the invocation. */
WC_EXPORT("open_row") int32_t open_row(void) {
    wc_csv w;
    wc_csv_init(&w, NULL, 0);
    CHECK(wc_csv_header(&w, abc, 3) == WC_OK);
    CHECK(wc_csv_row(&w, abc, 3) == WC_OK);
    wc_csv_field_str(&w, "x");
    CHECK(wc_csv_flush(&w) == WC_WRONG_STATE);
    return 0;
}

/* big_row: a row larger than the writer's buffer. */
WC_EXPORT("big_row") int32_t big_row(void) {
    static char buf[64];
    char text[100];
    memset(text, 'x', sizeof text);
    wc_csv w;
    wc_csv_init(&w, buf, sizeof buf);
    CHECK(wc_csv_header(&w, abc, 3) == WC_OK);
    CHECK(wc_csv_row(&w, abc, 3) == WC_OK);
    wc_csv_field(&w, text, 20);
    wc_csv_field(&w, text, sizeof text);
    wc_csv_field(&w, text, 1);
    CHECK(wc_csv_end_row(&w) == WC_TOO_LARGE);
    return 1;
}

/* wrong_format: a JSON function from a CSV collector. */
WC_EXPORT("wrong_format") int32_t wrong_format(void) {
    CHECK(wc_emit_json_str("{}") == WC_WRONG_FORMAT);
    return 0;
}

/* fails: wc_fail with a non-zero result. */
WC_EXPORT("fails") int32_t fails(void) {
    wc_fail("first message");
    wc_failf("acme is down: %d of %d hosts, \"%s\"", 3, 7, "web");
    return 2;
}

/* fails_zero: wc_fail alone fails the invocation. */
WC_EXPORT("fails_zero") int32_t fails_zero(void) {
    wc_fail("gave up");
    return 0;
}
