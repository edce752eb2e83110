/*
 * wasmcollector.h — the C SDK for wasmcollector collectors (ABI v1).
 *
 * A single header: every function is `static inline`, nothing to define before including it and
 * nothing to link. It wraps ABI v1, the import module "wasmcollector_v1" described in
 * hostfuncs/ABI.md (the contract; read it), and mirrors the Go SDK (guest-sdk/go): a collector is an
 * exported function taking nothing and returning int32_t (0 success, anything else failure) that
 * reads its slice and parameters and hands over one JSON document or CSV rows. The host validates
 * and writes the files, and quotes CSV itself, so a field may hold any UTF-8 text.
 *
 * BUILD (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32; `make deps`)
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *         -I guest-sdk/c -o acme.wasm acme.c
 *   wasm-strip acme.wasm          # optional (wabt): drops wasi-libc's debug info, ~5x smaller
 *
 * The module must be a *reactor* (-mexec-model=reactor: it exports _initialize, which the host
 * calls once per instance); a command with _start is refused. __attribute__((export_name("…")))
 * (or WC_EXPORT("…"), the same) makes each collector an export, named as the collector's function
 * in the TOML (default: its key). The module also imports wasi_snapshot_preview1 through
 * wasi-libc, which the host allows (no files, no environment, real clocks).
 *
 * EXAMPLE: a CSV collector and a JSON collector
 *
 *   #include "wasmcollector.h"
 *
 *   __attribute__((export_name("logins")))
 *   int32_t logins(void) {
 *       wc_slice_info s;
 *       wc_slice(&s);
 *       if (!s.has_since) s.since = s.until - 3600 * WC_NANOS_PER_SECOND;
 *
 *       wc_csv w;
 *       wc_csv_init(&w, NULL, 0);                      // NULL: the static 64 KiB batch buffer
 *       static const char *const cols[] = {"id", "user", "at", "source_ip"};
 *       wc_csv_header(&w, cols, 4);
 *       char at[WC_RFC3339_SIZE];
 *       int64_t id = 0;
 *       for (int64_t t = s.since + 60 * WC_NANOS_PER_SECOND; t <= s.until; t += 60 * WC_NANOS_PER_SECOND) {
 *           wc_csv_field_i64(&w, id++);
 *           wc_csv_field_str(&w, "alice, admin");      // the host quotes it
 *           wc_format_rfc3339(t, at, 0);
 *           wc_csv_field_str(&w, at);
 *           wc_csv_field_null(&w);                     // NULL: empty unquoted; "" is written quoted
 *           if (wc_csv_end_row(&w) != WC_OK) return 1; // sends a full batch with csv_rows
 *       }
 *       wc_logf(WC_LOG_INFO, "logins: %lld rows", (long long)wc_csv_rows(&w));
 *       return wc_csv_flush(&w) == WC_OK ? 0 : 1;     // required: unsent rows would be lost
 *   }
 *
 *   __attribute__((export_name("counts")))
 *   int32_t counts(void) {
 *       static const char doc[] = "{\"hosts\": 10}";
 *       if (wc_emit_json(doc, sizeof doc - 1) != WC_OK) return 1;
 *       return 0;
 *   }
 *
 * ERRORS
 *
 * Functions return a wc_status, the ABI status (WC_OK … WC_QUERY_FAILED). Output the host refuses
 * (emit_json, csv_header, csv_rows, db_stream_csv) has already failed the invocation, with the
 * host's message, whatever the export returns: return non-zero and stop. Reads never fail the
 * invocation (WC_NOT_FOUND for a missing parameter). wc_fail records a message of your own.
 *
 * The CSV writer's status is sticky: after the first failure every call does nothing and returns
 * that status. Mistakes the writer catches itself are handed to the host so the invocation fails
 * with the host's message, as in any SDK: a row whose field count differs from the header's, or a
 * row before the header, is sent at once and the host refuses it ("csv_rows: batch 1 row 3 (row 3 of
 * the output): row has 2 fields, header has 3 (status invalid)"). A row larger than the whole
 * buffer, or wc_csv_flush with a row still open, fails the invocation with wc_fail.
 *
 * DIFFERENCES FROM THE GO SDK
 *
 * - C has no Run wrapper: call wc_csv_flush before returning (rows still buffered are lost, and
 *   nothing notices), and return non-zero when something failed.
 * - wc_csv_flush with a row open fails (Go keeps the open row buffered).
 * - No float formatting: Go's shortest round-trip form is not what printf gives. Format numbers
 *   yourself, or use wc_csv_field_decimal for fixed-point values (1250, 3 -> "1.250").
 * - The read functions (wc_param, wc_params_json, wc_query_result, wc_last_error) take your buffer
 *   and NUL-terminate it; wc_param_dup allocates instead.
 * - Row cursors (wc_query_rows) are plain structs: call wc_rows_close to free their buffers.
 *
 * Outside WebAssembly (a native build of the collector's pure logic, for unit tests) the host
 * functions are stand-ins that return WC_NO_HOST.
 */
#ifndef WASMCOLLECTOR_H
#define WASMCOLLECTOR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__wasi__)
#include <wasi/api.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The import module of every ABI v1 host function. */
#define WC_ABI_MODULE "wasmcollector_v1"

/* Status codes (hostfuncs/ABI.md "Status codes"; guest-sdk/go/abi/abi.go). Never change meaning. */
typedef enum wc_status {
    WC_OK = 0,               /* done */
    WC_INVALID = 1,          /* malformed input: bad JSON, not UTF-8, wrong field count, bad level */
    WC_TOO_LARGE = 2,        /* one item is over its cap (JSON document, batch, log line) */
    WC_OVER_BUDGET = 3,      /* the invocation's output or log budget is spent */
    WC_WRONG_FORMAT = 4,     /* a JSON function from a CSV collector, or the other way round */
    WC_WRONG_STATE = 5,      /* out of order: rows before the header, a second header or document */
    WC_NOT_FOUND = 6,        /* no such parameter (or no query result / error) */
    WC_BUFFER_TOO_SMALL = 7, /* the answer does not fit; the needed length was written */
    WC_DENIED = 8,           /* the collector lacks the capability (granted in the TOML) */
    WC_QUERY_FAILED = 9,     /* a data-source query failed; wc_last_error says why */
    WC_NO_HOST = -1          /* SDK only: a native build, no host to call */
} wc_status;

/* Collection types returned by wc_collection_type. */
enum { WC_COLLECTION_DRY_RUN = 1, WC_COLLECTION_MANUAL = 2, WC_COLLECTION_SCHEDULED = 3 };

/* Log levels. */
enum { WC_LOG_DEBUG = 0, WC_LOG_INFO = 1, WC_LOG_WARN = 2, WC_LOG_ERROR = 3 };

/* Layout of the slice record and its flag bits. */
#define WC_SLICE_RECORD_SIZE 24
#define WC_SLICE_FLAG_SINCE_SET 1u
#define WC_SLICE_FLAG_UNTIL_SET 2u
#define WC_SLICE_FLAG_FULL_SYNC 4u

/* The field length that marks NULL in a field list. */
#define WC_NULL_FIELD 0xFFFFFFFFu

/* The size of the batches the CSV writer sends, as in the Go SDK. */
#define WC_CSV_BATCH_SIZE (64 * 1024)

#define WC_NANOS_PER_SECOND INT64_C(1000000000)

/* WC_EXPORT(name) before a function makes it the module export name (a collector's function in
 * the TOML); it is __attribute__((export_name(name))), and nothing in a native build. */
#if defined(__wasm__)
#define WC_EXPORT(name) __attribute__((export_name(name)))
#else
#define WC_EXPORT(name)
#endif

/* ------------------------------------------------------------------------------------------------
 * Raw host functions: the ABI as the host declares it. Pointers and lengths are i32; every
 * function returns an i32 status, except collection_type. Prefer the wrappers below.
 * --------------------------------------------------------------------------------------------- */
#if defined(__wasm__)

__attribute__((import_module("wasmcollector_v1"), import_name("emit_json")))
int32_t wc_host_emit_json(const void *ptr, uint32_t len);

__attribute__((import_module("wasmcollector_v1"), import_name("csv_header")))
int32_t wc_host_csv_header(const void *ptr, uint32_t len);

__attribute__((import_module("wasmcollector_v1"), import_name("csv_rows")))
int32_t wc_host_csv_rows(const void *ptr, uint32_t len);

__attribute__((import_module("wasmcollector_v1"), import_name("slice_bounds")))
int32_t wc_host_slice_bounds(void *out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("collection_type")))
int32_t wc_host_collection_type(void);

__attribute__((import_module("wasmcollector_v1"), import_name("param")))
int32_t wc_host_param(const void *name_ptr, uint32_t name_len, void *buf_ptr, uint32_t buf_cap,
                      uint32_t *len_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("params_json")))
int32_t wc_host_params_json(void *buf_ptr, uint32_t buf_cap, uint32_t *len_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("log")))
int32_t wc_host_log(int32_t level, const void *ptr, uint32_t len);

__attribute__((import_module("wasmcollector_v1"), import_name("fail")))
int32_t wc_host_fail(const void *ptr, uint32_t len);

__attribute__((import_module("wasmcollector_v1"), import_name("db_query")))
int32_t wc_host_db_query(const void *src_ptr, uint32_t src_len, const void *sql_ptr, uint32_t sql_len,
                         const void *params_ptr, uint32_t params_len, uint32_t *len_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("db_result")))
int32_t wc_host_db_result(void *buf_ptr, uint32_t buf_cap, uint32_t *len_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("db_stream_csv")))
int32_t wc_host_db_stream_csv(const void *src_ptr, uint32_t src_len, const void *sql_ptr, uint32_t sql_len,
                              const void *params_ptr, uint32_t params_len, uint64_t *rows_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("last_error")))
int32_t wc_host_last_error(void *buf_ptr, uint32_t buf_cap, uint32_t *len_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("db_query_rows")))
int32_t wc_host_db_query_rows(const void *src_ptr, uint32_t src_len, const void *sql_ptr, uint32_t sql_len,
                              const void *params_ptr, uint32_t params_len, uint32_t *len_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("db_rows_next")))
int32_t wc_host_db_rows_next(void *buf_ptr, uint32_t buf_cap, uint32_t *len_out_ptr);

__attribute__((import_module("wasmcollector_v1"), import_name("db_stream_csv_transform")))
int32_t wc_host_db_stream_csv_transform(const void *src_ptr, uint32_t src_len, const void *sql_ptr, uint32_t sql_len,
                                        const void *params_ptr, uint32_t params_len, const void *spec_ptr,
                                        uint32_t spec_len, uint64_t *rows_out_ptr);

#else /* a native build: stand-ins, so the collector's pure logic compiles and can be unit tested */

static inline int32_t wc_host_emit_json(const void *p, uint32_t n) { (void)p; (void)n; return WC_NO_HOST; }
static inline int32_t wc_host_csv_header(const void *p, uint32_t n) { (void)p; (void)n; return WC_NO_HOST; }
static inline int32_t wc_host_csv_rows(const void *p, uint32_t n) { (void)p; (void)n; return WC_NO_HOST; }
static inline int32_t wc_host_slice_bounds(void *out) { (void)out; return WC_NO_HOST; }
static inline int32_t wc_host_collection_type(void) { return 0; }
static inline int32_t wc_host_param(const void *np, uint32_t nn, void *b, uint32_t c, uint32_t *l) {
    (void)np; (void)nn; (void)b; (void)c; (void)l; return WC_NO_HOST;
}
static inline int32_t wc_host_params_json(void *b, uint32_t c, uint32_t *l) { (void)b; (void)c; (void)l; return WC_NO_HOST; }
static inline int32_t wc_host_log(int32_t lv, const void *p, uint32_t n) { (void)lv; (void)p; (void)n; return WC_NO_HOST; }
static inline int32_t wc_host_fail(const void *p, uint32_t n) { (void)p; (void)n; return WC_NO_HOST; }
static inline int32_t wc_host_db_query(const void *sp, uint32_t sn, const void *qp, uint32_t qn, const void *pp,
                                       uint32_t pn, uint32_t *l) {
    (void)sp; (void)sn; (void)qp; (void)qn; (void)pp; (void)pn; (void)l; return WC_NO_HOST;
}
static inline int32_t wc_host_db_result(void *b, uint32_t c, uint32_t *l) { (void)b; (void)c; (void)l; return WC_NO_HOST; }
static inline int32_t wc_host_db_stream_csv(const void *sp, uint32_t sn, const void *qp, uint32_t qn, const void *pp,
                                            uint32_t pn, uint64_t *r) {
    (void)sp; (void)sn; (void)qp; (void)qn; (void)pp; (void)pn; (void)r; return WC_NO_HOST;
}
static inline int32_t wc_host_last_error(void *b, uint32_t c, uint32_t *l) { (void)b; (void)c; (void)l; return WC_NO_HOST; }
static inline int32_t wc_host_db_query_rows(const void *sp, uint32_t sn, const void *qp, uint32_t qn, const void *pp,
                                            uint32_t pn, uint32_t *l) {
    (void)sp; (void)sn; (void)qp; (void)qn; (void)pp; (void)pn; (void)l;
    return WC_NO_HOST;
}
static inline int32_t wc_host_db_rows_next(void *b, uint32_t c, uint32_t *l) { (void)b; (void)c; (void)l; return WC_NO_HOST; }
static inline int32_t wc_host_db_stream_csv_transform(const void *sp, uint32_t sn, const void *qp, uint32_t qn,
                                                      const void *pp, uint32_t pn, const void *xp, uint32_t xn,
                                                      uint64_t *r) {
    (void)sp; (void)sn; (void)qp; (void)qn; (void)pp; (void)pn; (void)xp; (void)xn; (void)r;
    return WC_NO_HOST;
}

#endif

/* ------------------------------------------------------------------------------------------------
 * Status, output, slice, parameters, logging
 * --------------------------------------------------------------------------------------------- */

/* wc_status_name returns the ABI name of a status, such as "too_large". */
static inline const char *wc_status_name(int32_t st) {
    static const char *const names[] = {"ok", "invalid", "too_large", "over_budget", "wrong_format",
                                        "wrong_state", "not_found", "buffer_too_small", "denied",
                                        "query_failed"};
    if (st >= 0 && st < (int32_t)(sizeof names / sizeof names[0])) return names[st];
    return st == WC_NO_HOST ? "no_host" : "unknown";
}

/* wc_emit_json hands over the collector's one JSON document (len bytes, one complete value). */
static inline wc_status wc_emit_json(const char *doc, size_t len) {
    return (wc_status)wc_host_emit_json(doc, (uint32_t)len);
}

/* wc_emit_json_str is wc_emit_json of a NUL-terminated document. */
static inline wc_status wc_emit_json_str(const char *doc) { return wc_emit_json(doc, strlen(doc)); }

/* The invocation's time window: rows whose time t satisfies since < t <= until, in Unix
 * nanoseconds UTC. An unset bound is 0 with its has_ flag false. */
typedef struct wc_slice_info {
    int64_t since;
    int64_t until;
    bool has_since; /* false for a first collection with no start given, and the config collector */
    bool has_until; /* true in every gather except for the config collector */
    bool full_sync; /* the host wants the whole full-sync range */
} wc_slice_info;

static inline uint32_t wc__get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wc__put_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* wc_slice reads the slice record (slice_bounds) into *out; on failure *out is all zero. */
static inline wc_status wc_slice(wc_slice_info *out) {
    unsigned char rec[WC_SLICE_RECORD_SIZE] = {0};
    int32_t st = wc_host_slice_bounds(rec);
    memset(out, 0, sizeof *out);
    if (st != WC_OK) return (wc_status)st;
    uint32_t flags = wc__get_u32(rec + 16);
    out->has_since = (flags & WC_SLICE_FLAG_SINCE_SET) != 0;
    out->has_until = (flags & WC_SLICE_FLAG_UNTIL_SET) != 0;
    out->full_sync = (flags & WC_SLICE_FLAG_FULL_SYNC) != 0;
    if (out->has_since) out->since = (int64_t)((uint64_t)wc__get_u32(rec) | (uint64_t)wc__get_u32(rec + 4) << 32);
    if (out->has_until) out->until = (int64_t)((uint64_t)wc__get_u32(rec + 8) | (uint64_t)wc__get_u32(rec + 12) << 32);
    return WC_OK;
}

/* wc_collection_type returns WC_COLLECTION_DRY_RUN (wasmcollector run), _MANUAL or _SCHEDULED. */
static inline int32_t wc_collection_type(void) { return wc_host_collection_type(); }

/* wc_collection_type_name returns "dry-run", "manual", "scheduled" (as the Go SDK), or "". */
static inline const char *wc_collection_type_name(int32_t t) {
    switch (t) {
    case WC_COLLECTION_DRY_RUN: return "dry-run";
    case WC_COLLECTION_MANUAL: return "manual";
    case WC_COLLECTION_SCHEDULED: return "scheduled";
    }
    return "";
}

/* wc__read runs a read function of the param shape into buf, leaving room for a terminating NUL:
 * WC_OK with the value and a NUL in buf, WC_BUFFER_TOO_SMALL when it needs more than cap-1 bytes
 * (*len is the value's length; buf needs *len+1), or the host's status. len may be NULL. */
#define WC__READ(call_with_buf_cap_lenp)                                            \
    do {                                                                            \
        uint32_t n_ = 0;                                                            \
        uint32_t c_ = cap > 0 ? (uint32_t)(cap - 1) : 0;                            \
        int32_t st_ = (call_with_buf_cap_lenp);                                     \
        if (len) *len = n_;                                                         \
        if (st_ == WC_OK && (cap == 0 || n_ > c_)) st_ = WC_BUFFER_TOO_SMALL;       \
        if (st_ == WC_OK) buf[n_] = 0;                                              \
        return (wc_status)st_;                                                      \
    } while (0)

/* wc_param reads the TOML parameter name (from [collector.params]) as text: strings as themselves,
 * numbers and booleans as their TOML text ("42", "true"), dates as RFC 3339, arrays and tables as
 * JSON. WC_NOT_FOUND when there is none; WC_BUFFER_TOO_SMALL when the value and its NUL do not fit
 * in cap bytes (*len is the value's length). */
static inline wc_status wc_param(const char *name, char *buf, size_t cap, size_t *len) {
    WC__READ(wc_host_param(name, (uint32_t)strlen(name), buf, c_, &n_));
}

/* wc_param_dup returns parameter name as a NUL-terminated string of any length, allocated with
 * malloc (free it), or NULL when there is none (or out of memory). *len may be NULL. */
static inline char *wc_param_dup(const char *name, size_t *len) {
    size_t n = 0, cap = 64;
    for (int attempt = 0; attempt < 4; attempt++) {
        char *buf = (char *)malloc(cap);
        if (!buf) return NULL;
        wc_status st = wc_param(name, buf, cap, &n);
        if (st == WC_OK) {
            if (len) *len = n;
            return buf;
        }
        free(buf);
        if (st != WC_BUFFER_TOO_SMALL) return NULL;
        cap = n + 1;
    }
    return NULL;
}

/* wc_params_json reads the whole parameter table as one JSON object ("{}" when there are none),
 * with the conventions of wc_param. */
static inline wc_status wc_params_json(char *buf, size_t cap, size_t *len) {
    WC__READ(wc_host_params_json(buf, c_, &n_));
}

/* wc_log logs len bytes of UTF-8 at a level (WC_LOG_DEBUG … WC_LOG_ERROR), tagged by the host with
 * the collector key. It never fails the collector: a line over 4 KiB is cut (WC_TOO_LARGE), and once
 * max_log_bytes is spent lines are dropped (WC_OVER_BUDGET). */
static inline wc_status wc_log(int32_t level, const char *msg, size_t len) {
    return (wc_status)wc_host_log(level, msg, (uint32_t)len);
}

/* wc_log_str logs a NUL-terminated message. */
static inline wc_status wc_log_str(int32_t level, const char *msg) { return wc_log(level, msg, strlen(msg)); }

/* wc__utf8_trim returns n shortened so that msg[:n] does not end inside a UTF-8 sequence. */
static inline size_t wc__utf8_trim(const char *msg, size_t n) {
    size_t i = n, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)msg[i - 1] & 0xC0) == 0x80) i--, back++;
    if (i == 0) return n;
    unsigned char lead = (unsigned char)msg[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return (lead >= 0xC0 && back + 1 < need) ? i - 1 : n;
}

/* wc_vformat formats into a buffer of cap bytes (cap >= 1) as vsnprintf does, cutting a message
 * that does not fit at a UTF-8 boundary; it returns the length written. */
static inline size_t wc_vformat(char *buf, size_t cap, const char *fmt, va_list ap) {
    int n = vsnprintf(buf, cap, fmt, ap);
    if (n < 0) {
        buf[0] = 0;
        return 0;
    }
    if ((size_t)n >= cap) {
        size_t m = wc__utf8_trim(buf, cap - 1);
        buf[m] = 0;
        return m;
    }
    return (size_t)n;
}

/* wc_logf logs a printf-formatted message; it is cut to 1 KiB (formatted in a stack buffer). */
static inline wc_status wc_logf(int32_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline wc_status wc_logf(int32_t level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = wc_vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return wc_log(level, buf, n);
}

/* wc_fail records msg (NUL-terminated UTF-8, cut to 4 KiB by the host) as the reason this
 * invocation failed. The invocation fails even if the export returns 0; a later call replaces the
 * message. Unless output was refused: then the host's message wins. */
static inline wc_status wc_fail(const char *msg) { return (wc_status)wc_host_fail(msg, (uint32_t)strlen(msg)); }

/* wc_failf is wc_fail with a printf-formatted message, cut to 1 KiB. */
static inline wc_status wc_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline wc_status wc_failf(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    size_t n = wc_vformat(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return (wc_status)wc_host_fail(buf, (uint32_t)n);
}

/* ------------------------------------------------------------------------------------------------
 * Data sources (hostfuncs/ABI.md "Data sources"). source names a [datasources.NAME] granted to the
 * collector; sql is one read-only statement with @name parameters; params_json is a JSON object of
 * their values, or NULL for none. The host binds @since and @until itself.
 * --------------------------------------------------------------------------------------------- */

static inline uint32_t wc__strlen0(const char *s) { return s ? (uint32_t)strlen(s) : 0; }

/* wc_query runs a query and keeps its JSON result on the host ({"columns": [{"name", "type"}…],
 * "rows": [[…]…]}); *result_len (may be NULL) gets its length. Fetch it with wc_query_result. A
 * failure (WC_DENIED, WC_INVALID, WC_TOO_LARGE, WC_QUERY_FAILED) does not fail the invocation;
 * wc_last_error says why. */
static inline wc_status wc_query(const char *source, const char *sql, const char *params_json, size_t *result_len) {
    uint32_t n = 0;
    int32_t st = wc_host_db_query(source, (uint32_t)strlen(source), sql, (uint32_t)strlen(sql), params_json,
                                  wc__strlen0(params_json), &n);
    if (result_len) *result_len = st == WC_OK ? n : 0;
    return (wc_status)st;
}

/* wc_query_result copies the last wc_query result into buf, NUL-terminated, with the conventions
 * of wc_param (WC_BUFFER_TOO_SMALL: buf needs *len+1 bytes; WC_NOT_FOUND: no result). */
static inline wc_status wc_query_result(char *buf, size_t cap, size_t *len) {
    WC__READ(wc_host_db_result(buf, c_, &n_));
}

/* wc_stream_csv runs a query and writes its result straight into the CSV output (the header from
 * the column names, then the rows) without passing it through guest memory; *rows (may be NULL)
 * gets the row count. Any failure fails the invocation: rows may already have been written. */
static inline wc_status wc_stream_csv(const char *source, const char *sql, const char *params_json, uint64_t *rows) {
    uint64_t n = 0;
    int32_t st = wc_host_db_stream_csv(source, (uint32_t)strlen(source), sql, (uint32_t)strlen(sql), params_json,
                                       wc__strlen0(params_json), &n);
    if (rows) *rows = st == WC_OK ? n : 0;
    return (wc_status)st;
}

/* wc_stream_csv_transform is wc_stream_csv with per-column operations done by the host, given as
 * spec_json, a JSON array such as
 *   [{"column": "email", "hash": "sha256", "salt": "s3", "rename": "email_hash"},
 *    {"column": "password", "drop": true}, {"column": "created", "timestamp": "2006-01-02"}]
 * (hostfuncs/ABI.md "db_stream_csv_transform"). Values take the forms of wc_csv_copy_row on both
 * databases. Any failure, a bad spec included, fails the invocation. */
static inline wc_status wc_stream_csv_transform(const char *source, const char *sql, const char *params_json,
                                                const char *spec_json, uint64_t *rows) {
    uint64_t n = 0;
    int32_t st = wc_host_db_stream_csv_transform(source, (uint32_t)strlen(source), sql, (uint32_t)strlen(sql),
                                                 params_json, wc__strlen0(params_json), spec_json,
                                                 wc__strlen0(spec_json), &n);
    if (rows) *rows = st == WC_OK ? n : 0;
    return (wc_status)st;
}

/* wc_last_error copies the message of the last failed data call into buf, NUL-terminated, with the
 * conventions of wc_param (WC_NOT_FOUND when there is none). */
static inline wc_status wc_last_error(char *buf, size_t cap, size_t *len) {
    WC__READ(wc_host_last_error(buf, c_, &n_));
}

/* ------------------------------------------------------------------------------------------------
 * Time
 * --------------------------------------------------------------------------------------------- */

/* WC_RFC3339_SIZE is the buffer size wc_format_rfc3339 needs: "2262-04-11T23:47:16.854775807Z" and
 * a NUL. */
#define WC_RFC3339_SIZE 32

/* wc_civil_from_days converts days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * algorithm; exact for every int64 day count a nanosecond timestamp can hold). */
static inline void wc_civil_from_days(int64_t days, int64_t *year, int *month, int *day) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint32_t doe = (uint32_t)(z - era * 146097);
    uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint32_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int64_t)yoe + era * 400 + (m <= 2);
    *month = m;
    *day = d;
}

/* wc__digits writes v (>= 0) zero-padded to width digits at p and returns the end. */
static inline char *wc__digits(char *p, uint64_t v, int width) {
    char d[20];
    int i = 20;
    while (v > 0 || i > 20 - width) {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    }
    memcpy(p, d + i, (size_t)(20 - i));
    return p + (20 - i);
}

/* wc_format_rfc3339 formats a Unix nanosecond time in UTC as RFC 3339 into out (WC_RFC3339_SIZE
 * bytes), NUL-terminated, and returns its length. frac_digits 0..9 gives exactly that many fraction
 * digits (truncated, as Go's .000 layouts: 6 -> 2026-11-25T00:00:06.000000Z); -1 gives as many as
 * needed without trailing zeros, none for whole seconds (Go's time.RFC3339Nano). */
static inline size_t wc_format_rfc3339_parts(int64_t secs, uint32_t nanos, char out[WC_RFC3339_SIZE], int frac_digits);
static inline size_t wc_format_rfc3339(int64_t unix_nanos, char out[WC_RFC3339_SIZE], int frac_digits) {
    int64_t secs = unix_nanos / WC_NANOS_PER_SECOND;
    int64_t nanos = unix_nanos % WC_NANOS_PER_SECOND;
    if (nanos < 0) nanos += WC_NANOS_PER_SECOND, secs--;
    return wc_format_rfc3339_parts(secs, (uint32_t)nanos, out, frac_digits);
}

/* wc_format_rfc3339_parts is wc_format_rfc3339 for Unix seconds and nanoseconds (0..999999999),
 * as a row cursor gives timestamps; years 0 … 9999. */
static inline size_t wc_format_rfc3339_parts(int64_t secs, uint32_t nanos, char out[WC_RFC3339_SIZE], int frac_digits) {
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) sod += 86400, days--;
    int64_t year;
    int month, day;
    wc_civil_from_days(days, &year, &month, &day);
    char *p = out;
    p = wc__digits(p, (uint64_t)year, 4);
    *p++ = '-';
    p = wc__digits(p, (uint64_t)month, 2);
    *p++ = '-';
    p = wc__digits(p, (uint64_t)day, 2);
    *p++ = 'T';
    p = wc__digits(p, (uint64_t)(sod / 3600), 2);
    *p++ = ':';
    p = wc__digits(p, (uint64_t)(sod / 60 % 60), 2);
    *p++ = ':';
    p = wc__digits(p, (uint64_t)(sod % 60), 2);
    if (frac_digits > 9) frac_digits = 9;
    if (frac_digits < 0 && nanos != 0) {
        char f[9];
        wc__digits(f, (uint64_t)nanos, 9);
        int n = 9;
        while (f[n - 1] == '0') n--;
        *p++ = '.';
        memcpy(p, f, (size_t)n);
        p += n;
    } else if (frac_digits > 0) {
        char f[9];
        wc__digits(f, (uint64_t)nanos, 9);
        *p++ = '.';
        memcpy(p, f, (size_t)frac_digits);
        p += frac_digits;
    }
    *p++ = 'Z';
    *p = 0;
    return (size_t)(p - out);
}

/* wc_now returns the current time in Unix nanoseconds (WASI's real-time clock; 0 if it fails). */
static inline int64_t wc_now(void) {
#if defined(__wasi__)
    __wasi_timestamp_t t = 0;
    if (__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &t) != 0) return 0;
    return (int64_t)t;
#else
    return (int64_t)time(NULL) * WC_NANOS_PER_SECOND;
#endif
}

/* ------------------------------------------------------------------------------------------------
 * CSV writer
 *
 * It encodes rows as ABI field lists into one batch buffer and sends the buffer with csv_rows when
 * the next field does not fit, so memory use does not grow with the number of rows:
 *
 *   wc_csv w;
 *   wc_csv_init(&w, NULL, 0);            // or your own buffer: wc_csv_init(&w, buf, sizeof buf)
 *   wc_csv_header(&w, names, n);         // once, before any row
 *   wc_csv_field_i64(&w, id);            // each wc_csv_field_* appends to the open row
 *   wc_csv_field_str(&w, name);          // (opening one if needed)
 *   wc_csv_end_row(&w);                  // … then end it; check the status
 *   wc_csv_flush(&w);                    // before returning
 *
 * The field functions return nothing; a failure shows at wc_csv_end_row and wc_csv_flush, and is
 * sticky. A row must fit in the buffer. A wc_csv is not safe for concurrent use.
 * --------------------------------------------------------------------------------------------- */

typedef struct wc_csv {
    unsigned char *buf; /* complete rows not yet sent, then the open row */
    size_t cap;
    size_t len;
    size_t row_start;    /* offset of the open row's field count */
    uint32_t row_fields; /* fields in the open row */
    bool in_row;
    uint32_t columns; /* header field count; 0 until a header was accepted */
    uint32_t pending; /* complete rows in buf */
    int64_t rows;     /* rows accepted so far, sent or buffered */
    wc_status status; /* the first failure; sticky */
} wc_csv;

/* wc_csv_init prepares a writer over buf (cap bytes). buf NULL selects a static 64 KiB buffer
 * (WC_CSV_BATCH_SIZE), shared by every writer of the translation unit that passes NULL: use it
 * for one writer at a time. The default stack of a wasm32 module is only 64 KiB: do not put the
 * buffer there. */
static inline void wc_csv_init(wc_csv *w, char *buf, size_t cap) {
    static unsigned char wc__static_batch[WC_CSV_BATCH_SIZE];
    memset(w, 0, sizeof *w);
    if (buf == NULL) {
        w->buf = wc__static_batch;
        w->cap = sizeof wc__static_batch;
    } else {
        w->buf = (unsigned char *)buf;
        w->cap = cap;
    }
    w->status = WC_OK;
}

/* wc_csv_status returns the writer's sticky status. */
static inline wc_status wc_csv_status(const wc_csv *w) { return w->status; }

/* wc_csv_rows returns the number of rows accepted so far, sent or buffered. */
static inline int64_t wc_csv_rows(const wc_csv *w) { return w->rows; }

/* wc__csv_abort records a failure the writer found itself and tells the host with fail. */
static inline wc_status wc__csv_abort(wc_csv *w, wc_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline wc_status wc__csv_abort(wc_csv *w, wc_status st, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = wc_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wc_host_fail(msg, (uint32_t)n);
    if (w->in_row) {
        w->len = w->row_start;
        w->in_row = false;
    }
    w->status = st;
    return st;
}

/* wc__csv_send hands len bytes of complete rows to the host; a refusal becomes the sticky status
 * (the host has recorded the invocation as failed with its own message). */
static inline wc_status wc__csv_send(wc_csv *w, size_t len) {
    int32_t st = wc_host_csv_rows(w->buf, (uint32_t)len);
    if (st != WC_OK) w->status = (wc_status)st;
    return (wc_status)st;
}

/* wc__csv_reserve makes room for n more bytes, sending the complete rows when they do not fit. */
static inline bool wc__csv_reserve(wc_csv *w, size_t n) {
    if (w->cap - w->len >= n) return true;
    size_t done = w->in_row ? w->row_start : w->len;
    if (done > 0) {
        if (wc__csv_send(w, done) != WC_OK) return false;
        memmove(w->buf, w->buf + done, w->len - done);
        w->len -= done;
        w->row_start = 0;
        w->pending = 0;
        if (w->cap - w->len >= n) return true;
    }
    wc__csv_abort(w, WC_TOO_LARGE, "collector: csv row %lld is larger than the writer's buffer (%lu bytes)",
                  (long long)w->rows + 1, (unsigned long)w->cap);
    return false;
}

/* wc__csv_open opens a row unless one is open; false on failure. */
static inline bool wc__csv_open(wc_csv *w) {
    if (w->status != WC_OK) return false;
    if (w->in_row) return true;
    if (!wc__csv_reserve(w, 4)) return false;
    w->in_row = true;
    w->row_start = w->len;
    w->row_fields = 0;
    w->len += 4;
    return true;
}

/* wc_csv_header sets the column names: once, before any row; the host refuses an empty list, an
 * empty, NULL or duplicate name and a second header, with its own message. */
static inline wc_status wc_csv_header(wc_csv *w, const char *const *names, uint32_t n) {
    if (w->status != WC_OK) return w->status;
    if (w->in_row) return wc__csv_abort(w, WC_WRONG_STATE, "collector: csv header while a row is open");
    if (w->len > 0 && wc__csv_send(w, w->len) != WC_OK) return w->status;
    w->len = 0;
    w->pending = 0;
    size_t size = 4;
    for (uint32_t i = 0; i < n; i++) size += 4 + (names[i] ? strlen(names[i]) : 0);
    if (size > w->cap)
        return wc__csv_abort(w, WC_TOO_LARGE, "collector: csv header of %lu bytes is larger than the writer's buffer (%lu bytes)",
                             (unsigned long)size, (unsigned long)w->cap);
    unsigned char *p = w->buf;
    wc__put_u32(p, n);
    p += 4;
    for (uint32_t i = 0; i < n; i++) {
        if (!names[i]) {
            wc__put_u32(p, WC_NULL_FIELD);
            p += 4;
            continue;
        }
        size_t l = strlen(names[i]);
        wc__put_u32(p, (uint32_t)l);
        memcpy(p + 4, names[i], l);
        p += 4 + l;
    }
    int32_t st = wc_host_csv_header(w->buf, (uint32_t)size);
    if (st != WC_OK) {
        w->status = (wc_status)st;
        return w->status;
    }
    w->columns = n;
    return WC_OK;
}

/* wc_csv_begin_row opens a row. Optional: the first field opens one. */
static inline void wc_csv_begin_row(wc_csv *w) { (void)wc__csv_open(w); }

/* wc_csv_field appends a text field of len bytes (UTF-8; commas, quotes and newlines are fine:
 * the host quotes). "" (len 0) is the empty string, written as ""; s NULL is a NULL field. */
static inline void wc_csv_field(wc_csv *w, const char *s, size_t len) {
    if (!wc__csv_open(w)) return;
    if (!s) {
        if (!wc__csv_reserve(w, 4)) return;
        wc__put_u32(w->buf + w->len, WC_NULL_FIELD);
        w->len += 4;
    } else {
        if (!wc__csv_reserve(w, len > w->cap ? w->cap + 1 : 4 + len)) return; /* fails an oversized row */
        wc__put_u32(w->buf + w->len, (uint32_t)len);
        memcpy(w->buf + w->len + 4, s, len);
        w->len += 4 + len;
    }
    w->row_fields++;
}

/* wc_csv_field_str appends a NUL-terminated text field; NULL is a NULL field. */
static inline void wc_csv_field_str(wc_csv *w, const char *s) { wc_csv_field(w, s, s ? strlen(s) : 0); }

/* wc_csv_field_null appends a NULL field: an empty unquoted field, unlike "" which the host writes
 * quoted (the convention of PostgreSQL's COPY … CSV). */
static inline void wc_csv_field_null(wc_csv *w) { wc_csv_field(w, NULL, 0); }

/* wc__u64 writes v in decimal at p (room for 20 digits) and returns the end. */
static inline char *wc__u64(char *p, uint64_t v) {
    char d[20];
    int i = 20;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    memcpy(p, d + i, (size_t)(20 - i));
    return p + (20 - i);
}

/* wc_format_i64 writes v in decimal at out (21 bytes suffice; no NUL) and returns the length. */
static inline size_t wc_format_i64(char *out, int64_t v) {
    char *p = out;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        *p++ = '-';
        u = 0 - u;
    }
    return (size_t)(wc__u64(p, u) - out);
}

/* wc_csv_field_i64 appends v in decimal. */
static inline void wc_csv_field_i64(wc_csv *w, int64_t v) {
    char d[21];
    wc_csv_field(w, d, wc_format_i64(d, v));
}

/* wc_csv_field_u64 appends v in decimal. */
static inline void wc_csv_field_u64(wc_csv *w, uint64_t v) {
    char d[20];
    wc_csv_field(w, d, (size_t)(wc__u64(d, v) - d));
}

/* wc_csv_field_bool appends "true" or "false" (as the Go SDK). */
static inline void wc_csv_field_bool(wc_csv *w, bool v) {
    if (v) wc_csv_field(w, "true", 4);
    else wc_csv_field(w, "false", 5);
}

/* wc_csv_field_decimal appends the fixed-point number units / 10^scale with exactly scale decimals
 * (scale 0..18): (1250, 3) -> "1.250", (-5, 2) -> "-0.05", (7, 0) -> "7". */
static inline void wc_csv_field_decimal(wc_csv *w, int64_t units, int scale) {
    static const uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
                                     1000000000, 10000000000ull, 100000000000ull, 1000000000000ull,
                                     10000000000000ull, 100000000000000ull, 1000000000000000ull,
                                     10000000000000000ull, 100000000000000000ull, 1000000000000000000ull};
    if (scale < 0) scale = 0;
    if (scale > 18) scale = 18;
    char d[48], *p = d;
    uint64_t u = (uint64_t)units;
    if (units < 0) {
        *p++ = '-';
        u = 0 - u;
    }
    p = wc__u64(p, u / pow10[scale]);
    if (scale > 0) {
        *p++ = '.';
        p = wc__digits(p, u % pow10[scale], scale);
    }
    wc_csv_field(w, d, (size_t)(p - d));
}

/* wc_csv_field_time appends a Unix nanosecond time as RFC 3339 UTC with frac_digits as in
 * wc_format_rfc3339 (-1: Go SDK's FieldTime form, 2025-03-01T12:00:00.25Z). */
static inline void wc_csv_field_time(wc_csv *w, int64_t unix_nanos, int frac_digits) {
    char t[WC_RFC3339_SIZE];
    wc_csv_field(w, t, wc_format_rfc3339(unix_nanos, t, frac_digits));
}

/* wc_csv_end_row ends the open row (with no open row: a row of no fields) and adds it to the
 * batch; the batch is sent with csv_rows when the next row does not fit. A row whose field count
 * differs from the header's, or that comes before the header, is sent at once so the host refuses
 * it with its message. Returns the sticky status. */
static inline wc_status wc_csv_end_row(wc_csv *w) {
    if (!wc__csv_open(w)) return w->status;
    wc__put_u32(w->buf + w->row_start, w->row_fields);
    w->in_row = false;
    if (w->columns == 0 || w->row_fields != w->columns) {
        /* Let the host judge (it knows a header set by wc_stream_csv). */
        if (wc__csv_send(w, w->len) != WC_OK) return w->status;
        if (w->columns == 0) w->columns = w->row_fields;
        w->len = 0;
        w->rows += w->pending + 1;
        w->pending = 0;
        if (w->row_fields != w->columns)
            return wc__csv_abort(w, WC_INVALID, "collector: csv row %lld has %u fields, header has %u",
                                 (long long)w->rows, (unsigned)w->row_fields, (unsigned)w->columns);
        return WC_OK;
    }
    w->rows++;
    w->pending++;
    return WC_OK;
}

/* wc_csv_row adds a row of n text fields (NULL entries are NULL fields). */
static inline wc_status wc_csv_row(wc_csv *w, const char *const *fields, uint32_t n) {
    if (w->status == WC_OK && w->in_row)
        return wc__csv_abort(w, WC_WRONG_STATE, "collector: csv row %lld: wc_csv_row called while a row is open",
                             (long long)w->rows + 1);
    for (uint32_t i = 0; i < n; i++) wc_csv_field_str(w, fields[i]);
    return wc_csv_end_row(w);
}

/* wc_csv_flush sends the buffered rows with csv_rows. Call it before the collector returns: rows
 * still buffered then are lost. A row still open fails the invocation (call wc_csv_end_row first).
 * Returns the sticky status. */
static inline wc_status wc_csv_flush(wc_csv *w) {
    if (w->status != WC_OK) return w->status;
    size_t end = w->in_row ? w->row_start : w->len;
    if (end > 0) {
        if (wc__csv_send(w, end) != WC_OK) return w->status;
        memmove(w->buf, w->buf + end, w->len - end);
        w->len -= end;
        w->row_start = 0;
        w->pending = 0;
    }
    if (w->in_row)
        return wc__csv_abort(w, WC_WRONG_STATE,
                             "collector: csv writer holds an unfinished row: call wc_csv_end_row before wc_csv_flush");
    return WC_OK;
}

/* ------------------------------------------------------------------------------------------------
 * Row cursor (hostfuncs/ABI.md "db_query_rows", "Row pages"): a query's rows read one by one, a page
 * of about 64 KiB at a time, without JSON:
 *
 *   wc_rows r;
 *   if (wc_query_rows(&r, "awx", "SELECT id, name FROM main_host", NULL) != WC_OK) return 1;
 *   while (wc_rows_next(&r)) {
 *       int64_t id = wc_rows_int64(&r, 0);
 *       size_t n;
 *       const char *name = wc_rows_text(&r, 1, &n);   // not NUL-terminated; valid until the next row
 *   }
 *   wc_status st = wc_rows_status(&r);                 // WC_OK after a complete read
 *   wc_rows_close(&r);
 *
 * One cursor reads at a time: a later wc_query_rows abandons the earlier one on the host.
 * --------------------------------------------------------------------------------------------- */

/* Value tags: the type byte of a column, and the first byte of every value (a value's tag can
 * differ from its column's type on SQLite; NULL is WC_TAG_NULL). */
enum { WC_TAG_NULL = 0, WC_TAG_INT = 1, WC_TAG_FLOAT = 2, WC_TAG_TEXT = 3, WC_TAG_BOOL = 4, WC_TAG_TIMESTAMP = 5, WC_TAG_BYTES = 6 };

/* The size the host fills a page to; a page is at most this plus one row. */
#define WC_ROWS_PAGE_BYTES (64 * 1024)

typedef struct wc_rows_value {
    uint8_t tag;
    uint32_t off, len; /* the payload in the page */
} wc_rows_value;

typedef struct wc_rows {
    unsigned char *header; /* the column header (malloc) */
    size_t header_len;
    uint32_t columns;
    const unsigned char **names; /* per column: its name in header, and the name's length */
    uint32_t *name_lens;
    uint8_t *types;
    unsigned char *page; /* the current page (malloc, grown to need) */
    size_t cap, len, pos;
    uint32_t left;         /* rows of the page not yet read */
    wc_rows_value *values; /* the current row */
    wc_status status;      /* the first failure; sticky */
    bool done, have_row;
} wc_rows;

static inline uint64_t wc__get_u64(const unsigned char *p) {
    return (uint64_t)wc__get_u32(p) | ((uint64_t)wc__get_u32(p + 4) << 32);
}

/* wc_rows_close frees the cursor's buffers; safe to call twice. */
static inline void wc_rows_close(wc_rows *r) {
    free(r->header);
    free((void *)r->names);
    free(r->name_lens);
    free(r->types);
    free(r->page);
    free(r->values);
    r->header = NULL, r->names = NULL, r->name_lens = NULL, r->types = NULL, r->page = NULL, r->values = NULL;
    r->done = true, r->have_row = false;
}

static inline wc_status wc__rows_fail(wc_rows *r, wc_status st) {
    r->status = st;
    r->done = true;
    r->have_row = false;
    return st;
}

/* wc_query_rows runs a query (as wc_query) and opens a cursor over its rows. A failure (WC_DENIED,
 * WC_INVALID, WC_TOO_LARGE, WC_QUERY_FAILED) does not fail the invocation; wc_last_error says why.
 * Call wc_rows_close in every case. */
static inline wc_status wc_query_rows(wc_rows *r, const char *source, const char *sql, const char *params_json) {
    memset(r, 0, sizeof *r);
    r->status = WC_OK;
    uint32_t n = 0;
    int32_t st = wc_host_db_query_rows(source, (uint32_t)strlen(source), sql, (uint32_t)strlen(sql), params_json,
                                       wc__strlen0(params_json), &n);
    if (st != WC_OK) return wc__rows_fail(r, (wc_status)st);
    r->header = (unsigned char *)malloc(n ? n : 1);
    if (!r->header) return wc__rows_fail(r, WC_TOO_LARGE);
    uint32_t got = 0;
    st = wc_host_db_result(r->header, n, &got);
    if (st != WC_OK || got != n || n < 4) return wc__rows_fail(r, st != WC_OK ? (wc_status)st : WC_INVALID);
    r->header_len = n;
    uint32_t cols = wc__get_u32(r->header);
    if (cols > (n - 4) / 5) return wc__rows_fail(r, WC_INVALID);
    r->columns = cols;
    r->names = (const unsigned char **)calloc(cols ? cols : 1, sizeof *r->names);
    r->name_lens = (uint32_t *)calloc(cols ? cols : 1, sizeof *r->name_lens);
    r->types = (uint8_t *)calloc(cols ? cols : 1, 1);
    r->values = (wc_rows_value *)calloc(cols ? cols : 1, sizeof *r->values);
    r->cap = WC_ROWS_PAGE_BYTES + WC_ROWS_PAGE_BYTES / 4;
    r->page = (unsigned char *)malloc(r->cap);
    if (!r->names || !r->name_lens || !r->types || !r->values || !r->page) return wc__rows_fail(r, WC_TOO_LARGE);
    size_t p = 4;
    for (uint32_t i = 0; i < cols; i++) {
        if (n - p < 5) return wc__rows_fail(r, WC_INVALID);
        r->types[i] = r->header[p];
        uint32_t l = wc__get_u32(r->header + p + 1);
        p += 5;
        if (l > n - p || r->types[i] == WC_TAG_NULL || r->types[i] > WC_TAG_BYTES) return wc__rows_fail(r, WC_INVALID);
        r->names[i] = r->header + p;
        r->name_lens[i] = l;
        p += l;
    }
    if (p != n) return wc__rows_fail(r, WC_INVALID);
    return WC_OK;
}

/* wc_rows_columns, wc_rows_column_name (not NUL-terminated; *len gets its length) and
 * wc_rows_column_type (a WC_TAG_*) describe the result. */
static inline uint32_t wc_rows_columns(const wc_rows *r) { return r->columns; }
static inline const char *wc_rows_column_name(const wc_rows *r, uint32_t col, size_t *len) {
    *len = r->name_lens[col];
    return (const char *)r->names[col];
}
static inline uint8_t wc_rows_column_type(const wc_rows *r, uint32_t col) { return r->types[col]; }

/* wc_rows_status returns the cursor's sticky status: WC_OK until something failed. WC_INVALID means
 * a malformed page; a query that failed part-way gives the host's status (wc_last_error says why),
 * and the rows read are incomplete. */
static inline wc_status wc_rows_status(const wc_rows *r) { return r->status; }

/* wc__rows_fetch reads the next page; false at the end or on a failure. */
static inline bool wc__rows_fetch(wc_rows *r) {
    for (int attempt = 0; attempt < 4; attempt++) {
        uint32_t n = 0;
        int32_t st = wc_host_db_rows_next(r->page, (uint32_t)r->cap, &n);
        if (st == WC_BUFFER_TOO_SMALL) {
            unsigned char *p = (unsigned char *)realloc(r->page, n);
            if (!p) return wc__rows_fail(r, WC_TOO_LARGE), false;
            r->page = p, r->cap = n;
            continue;
        }
        if (st != WC_OK) return wc__rows_fail(r, (wc_status)st), false;
        if (n == 0) {
            r->done = true;
            return false;
        }
        if (n < 4 || n > r->cap || wc__get_u32(r->page) == 0) return wc__rows_fail(r, WC_INVALID), false;
        r->len = n, r->pos = 4, r->left = wc__get_u32(r->page);
        return true;
    }
    return wc__rows_fail(r, WC_BUFFER_TOO_SMALL), false;
}

/* wc_rows_next moves to the next row: true when there is one, false at the end or on a failure
 * (wc_rows_status). */
static inline bool wc_rows_next(wc_rows *r) {
    r->have_row = false;
    if (r->done || r->status != WC_OK) return false;
    while (r->left == 0) {
        if (r->pos != r->len) return wc__rows_fail(r, WC_INVALID), false;
        if (!wc__rows_fetch(r)) return false;
    }
    const unsigned char *p = r->page;
    size_t pos = r->pos, end = r->len;
    for (uint32_t i = 0; i < r->columns; i++) {
        if (pos >= end) return wc__rows_fail(r, WC_INVALID), false;
        wc_rows_value *v = &r->values[i];
        v->tag = p[pos++];
        switch (v->tag) {
        case WC_TAG_NULL: v->len = 0; break;
        case WC_TAG_INT:
        case WC_TAG_FLOAT: v->len = 8; break;
        case WC_TAG_BOOL: v->len = 1; break;
        case WC_TAG_TIMESTAMP: v->len = 12; break;
        case WC_TAG_TEXT:
        case WC_TAG_BYTES:
            if (end - pos < 4) return wc__rows_fail(r, WC_INVALID), false;
            v->len = wc__get_u32(p + pos);
            pos += 4;
            break;
        default: return wc__rows_fail(r, WC_INVALID), false;
        }
        if (end - pos < v->len) return wc__rows_fail(r, WC_INVALID), false;
        v->off = (uint32_t)pos;
        pos += v->len;
    }
    r->pos = pos;
    r->left--;
    r->have_row = true;
    return true;
}

/* wc_rows_tag returns the tag of column col's value in the current row (WC_TAG_NULL for NULL). */
static inline uint8_t wc_rows_tag(const wc_rows *r, uint32_t col) { return r->values[col].tag; }
static inline bool wc_rows_is_null(const wc_rows *r, uint32_t col) { return r->values[col].tag == WC_TAG_NULL; }

/* wc_rows_float64 returns a float, or an int converted; anything else is 0. */
static inline double wc_rows_float64(const wc_rows *r, uint32_t col) {
    const wc_rows_value *v = &r->values[col];
    uint64_t bits = v->tag == WC_TAG_INT || v->tag == WC_TAG_FLOAT ? wc__get_u64(r->page + v->off) : 0;
    if (v->tag == WC_TAG_INT) return (double)(int64_t)bits;
    double d = 0;
    if (v->tag == WC_TAG_FLOAT) memcpy(&d, &bits, sizeof d);
    return d;
}

/* wc_rows_int64 returns an int, a float truncated, a bool as 0 or 1; NULL, text and bytes are 0. */
static inline int64_t wc_rows_int64(const wc_rows *r, uint32_t col) {
    const wc_rows_value *v = &r->values[col];
    switch (v->tag) {
    case WC_TAG_INT: return (int64_t)wc__get_u64(r->page + v->off);
    case WC_TAG_FLOAT: return (int64_t)wc_rows_float64(r, col);
    case WC_TAG_BOOL: return r->page[v->off] != 0;
    }
    return 0;
}

/* wc_rows_bool returns a bool, or a number not 0; anything else is false. */
static inline bool wc_rows_bool(const wc_rows *r, uint32_t col) {
    const wc_rows_value *v = &r->values[col];
    if (v->tag == WC_TAG_BOOL) return r->page[v->off] != 0;
    return wc_rows_float64(r, col) != 0;
}

/* wc_rows_time returns a timestamp as Unix seconds and nanoseconds (0, 0 for another type). */
static inline void wc_rows_time(const wc_rows *r, uint32_t col, int64_t *sec, uint32_t *nsec) {
    const wc_rows_value *v = &r->values[col];
    *sec = 0, *nsec = 0;
    if (v->tag != WC_TAG_TIMESTAMP) return;
    *sec = (int64_t)wc__get_u64(r->page + v->off);
    *nsec = wc__get_u32(r->page + v->off + 8);
}

/* wc_rows_text returns text or bytes without copying (not NUL-terminated, valid until the next
 * wc_rows_next); *len gets the length. NULL and other types give NULL and 0. */
static inline const char *wc_rows_text(const wc_rows *r, uint32_t col, size_t *len) {
    const wc_rows_value *v = &r->values[col];
    if (v->tag != WC_TAG_TEXT && v->tag != WC_TAG_BYTES) {
        *len = 0;
        return NULL;
    }
    *len = v->len;
    return (const char *)r->page + v->off;
}

/* wc_format_float writes v as Go's strconv.FormatFloat(v, 'g', -1, 64) does (the shortest digits
 * that read back exactly; exponent form below 1e-4 and from 1e6: 1.5, 1e+06, 5e-324, NaN, +Inf)
 * at out (32 bytes suffice; no NUL) and returns the length. */
static inline size_t wc_format_float(char *out, double v) {
    if (v != v) return memcpy(out, "NaN", 3), 3;
    if (v > 1.7976931348623157e308) return memcpy(out, "+Inf", 4), 4;
    if (v < -1.7976931348623157e308) return memcpy(out, "-Inf", 4), 4;
    char e[40];
    int prec = 0;
    for (; prec < 17; prec++) { /* the shortest %.*e that reads back exactly */
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e is [-]d[.ddd]e±XX: split into sign, digits and exponent. */
    char digits[20];
    int nd = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char *o = out;
    if (neg) *o++ = '-';
    if (exp < -4 || exp >= 6) {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = exp < 0 ? '-' : '+';
        int ax = exp < 0 ? -exp : exp;
        if (ax >= 100) *o++ = (char)('0' + ax / 100);
        *o++ = (char)('0' + ax / 10 % 10);
        *o++ = (char)('0' + ax % 10);
    } else if (exp < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > exp; i--) *o++ = '0';
        memcpy(o, digits, (size_t)nd);
        o += nd;
    } else {
        for (int i = 0; i <= exp; i++) *o++ = i < nd ? digits[i] : '0';
        if (nd > exp + 1) {
            *o++ = '.';
            memcpy(o, digits + exp + 1, (size_t)(nd - exp - 1));
            o += nd - exp - 1;
        }
    }
    return (size_t)(o - out);
}

/* wc_csv_copy_row adds the current row of r as a CSV row, each value in the Go SDK's form (the
 * forms db_stream_csv writes on SQLite): ints in decimal, floats as wc_format_float, bools
 * true/false, timestamps RFC 3339 UTC with the fraction trimmed, text and bytes as they are.
 * Returns the writer's status, as wc_csv_end_row. */
static inline wc_status wc_csv_copy_row(wc_csv *w, const wc_rows *r) {
    if (!r->have_row) return wc__csv_abort(w, WC_WRONG_STATE, "collector: wc_csv_copy_row without a current row");
    for (uint32_t i = 0; i < r->columns; i++) {
        const wc_rows_value *v = &r->values[i];
        switch (v->tag) {
        case WC_TAG_NULL: wc_csv_field_null(w); break;
        case WC_TAG_INT: wc_csv_field_i64(w, wc_rows_int64(r, i)); break;
        case WC_TAG_FLOAT: {
            char d[32];
            wc_csv_field(w, d, wc_format_float(d, wc_rows_float64(r, i)));
            break;
        }
        case WC_TAG_BOOL: wc_csv_field_bool(w, wc_rows_bool(r, i)); break;
        case WC_TAG_TIMESTAMP: {
            int64_t sec;
            uint32_t nsec;
            wc_rows_time(r, i, &sec, &nsec);
            char t[WC_RFC3339_SIZE];
            wc_csv_field(w, t, wc_format_rfc3339_parts(sec, nsec, t, -1));
            break;
        }
        default: wc_csv_field(w, (const char *)r->page + v->off, v->len);
        }
    }
    return wc_csv_end_row(w);
}

#ifdef __cplusplus
}
#endif

#endif /* WASMCOLLECTOR_H */
