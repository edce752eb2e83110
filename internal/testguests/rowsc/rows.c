/*
 * rows.c: the C port of dbprobe's rows export, for the e2e tests of the row cursor. It reads
 * parameter sql on parameter source with wc_query_rows and copies every row into the CSV output
 * with wc_csv_copy_row; transform hands a spec to wc_stream_csv_transform.
 */
#include "wasmcollector.h"

WC_EXPORT("rows")
int32_t rows(void) {
    char *source = wc_param_dup("source", NULL);
    char *sql = wc_param_dup("sql", NULL);
    if (!source || !sql) return wc_fail("rows: parameters source and sql are required"), 1;
    wc_rows r;
    wc_status st = wc_query_rows(&r, source, sql, NULL);
    if (st != WC_OK) {
        char msg[512];
        wc_last_error(msg, sizeof msg, NULL);
        wc_failf("rows: db_query_rows: %s: %s", wc_status_name(st), msg);
        wc_rows_close(&r);
        return 1;
    }
    uint32_t n = wc_rows_columns(&r);
    const char **names = (const char **)calloc(n, sizeof *names);
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *name = wc_rows_column_name(&r, i, &len);
        char *s = (char *)malloc(len + 1);
        memcpy(s, name, len);
        s[len] = 0;
        names[i] = s;
    }
    wc_csv w;
    wc_csv_init(&w, NULL, 0);
    if (wc_csv_header(&w, names, n) != WC_OK) return 1;
    while (wc_rows_next(&r))
        if (wc_csv_copy_row(&w, &r) != WC_OK) return 1;
    st = wc_rows_status(&r);
    wc_rows_close(&r);
    if (st != WC_OK) {
        char msg[512];
        wc_last_error(msg, sizeof msg, NULL);
        wc_failf("rows: db_rows_next: %s: %s", wc_status_name(st), msg);
        return 1;
    }
    return wc_csv_flush(&w) == WC_OK ? 0 : 1;
}

/* transform: wc_stream_csv_transform of parameter sql with parameter spec passed as it is, so the
 * tests can hand the host any spec, broken ones included. */
WC_EXPORT("transform")
int32_t transform(void) {
    char *source = wc_param_dup("source", NULL);
    char *sql = wc_param_dup("sql", NULL);
    char *spec = wc_param_dup("spec", NULL);
    if (!source || !sql || !spec) return wc_fail("transform: parameters source, sql and spec are required"), 1;
    uint64_t rows = 0;
    wc_status st = wc_stream_csv_transform(source, sql, NULL, spec, &rows);
    if (st != WC_OK) return 1; /* the host has failed the invocation with its message */
    wc_logf(WC_LOG_INFO, "transform: %llu rows", (unsigned long long)rows);
    return 0;
}
