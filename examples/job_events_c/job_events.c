/*
 * job_events.c — the job_events example collector (examples/job_events/main.go) in C, on the C SDK
 * (guest-sdk/c/wasmcollector.h). For the same slice and parameters it writes byte for byte the
 * same CSV as the Go module: the same global event grid, the same PCG-DXSM random streams as Go's
 * math/rand/v2 PCG, the same formatting. See README.md.
 *
 * Build (from the repository root):
 *
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Iguest-sdk/c \
 *         -o build/modules/job_events_c.wasm examples/job_events_c/job_events.c
 *   wasm-strip build/modules/job_events_c.wasm    # optional
 */
#include "wasmcollector.h"

#define DEFAULT_EVENTS_PER_HOUR 600
#define US_PER_HOUR INT64_C(3600000000)
/* One grid point per microsecond, the resolution of the timestamps. */
#define MAX_EVENTS_PER_HOUR US_PER_HOUR
#define US_PER_DAY INT64_C(86400000000)

/* Every job has the same shape: playbook_on_start, playbook_on_play_start, TASKS_PER_JOB tasks
 * (playbook_on_task_start, then one runner event per host), playbook_on_stats. */
#define HOSTS_PER_JOB 4
#define TASKS_PER_JOB 6
#define TASK_BLOCK (1 + HOSTS_PER_JOB)
#define FIRST_TASK 2
#define EVENTS_PER_JOB (FIRST_TASK + TASKS_PER_JOB * TASK_BLOCK + 1)
#define STATS_EVENT (EVENTS_PER_JOB - 1)
#define INVENTORY 240 /* host ids 1..INVENTORY */

/* Seeds of the independent random streams; changing one changes every row. */
#define SEED_JOB UINT64_C(0x6a6f625f65766e74)
#define SEED_EVENT UINT64_C(0x6576656e745f6f6b)
#define SEED_UUID UINT64_C(0x757569645f763421)

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const columns[] = {
    "id", "created", "modified", "job_created", "uuid", "parent_uuid", "event", "task_action",
    "failed", "changed", "playbook", "play", "task", "role", "job_id", "host_id", "host_name", "duration",
};

/* Task names include commas and double quotes on purpose: the host must quote them. */
static const struct task {
    const char *name, *action, *role;
} tasks[] = {
    {"Gathering Facts", "gather_facts", ""},
    {"Install packages: nginx, openssl", "ansible.builtin.dnf", "nginx"},
    {"Render \"nginx.conf\" from template", "ansible.builtin.template", "nginx"},
    {"Ensure nginx is started, enabled", "ansible.builtin.service", "nginx"},
    {"Create user \"deploy\"", "ansible.builtin.user", "common"},
    {"Copy SSH keys, set \"authorized_keys\"", "ansible.posix.authorized_key", "common"},
    {"Set sysctl \"vm.swappiness\" = 10", "ansible.posix.sysctl", "common"},
    {"Open firewall ports 80, 443", "ansible.posix.firewalld", ""},
    {"Run database migrations", "ansible.builtin.command", "app"},
    {"Check health endpoint", "ansible.builtin.uri", "app"},
    {"Debug: print \"release\", version", "ansible.builtin.debug", ""},
    {"Apply security updates", "ansible.builtin.dnf", "patching"},
    {"Reboot if required", "ansible.builtin.reboot", "patching"},
    {"Dump database \"inventory\", compress", "community.postgresql.postgresql_db", "backup"},
};

static const struct playbook {
    const char *file, *play;
} playbooks[] = {
    {"site.yml", "Configure web servers"},
    {"deploy_app.yml", "Deploy application, \"blue\" slot"},
    {"patch_servers.yml", "Apply security patches"},
    {"db_backup.yml", "Back up databases"},
};

static const char *const host_roles[] = {"web", "app", "db", "lb"};

/* ---- Go's math/rand/v2 PCG (128-bit LCG, DXSM output), bit for bit ---------------------------- */

typedef struct {
    uint64_t hi, lo;
} pcg;

/* mul64 is Go's bits.Mul64: the 128-bit product of x and y. */
static inline uint64_t mul64(uint64_t x, uint64_t y, uint64_t *lo) {
    const uint64_t mask32 = 0xffffffffu;
    uint64_t x0 = x & mask32, x1 = x >> 32, y0 = y & mask32, y1 = y >> 32;
    uint64_t w0 = x0 * y0;
    uint64_t t = x1 * y0 + (w0 >> 32);
    uint64_t w1 = t & mask32, w2 = t >> 32;
    w1 += x0 * y1;
    *lo = x * y;
    return x1 * y1 + w2 + (w1 >> 32);
}

static inline void pcg_seed(pcg *p, uint64_t seed1, uint64_t seed2) {
    p->hi = seed1;
    p->lo = seed2;
}

static inline uint64_t pcg_uint64(pcg *p) {
    const uint64_t mul_hi = UINT64_C(2549297995355413924), mul_lo = UINT64_C(4865540595714422341);
    const uint64_t inc_hi = UINT64_C(6364136223846793005), inc_lo = UINT64_C(1442695040888963407);
    /* state = state * mul + inc */
    uint64_t lo;
    uint64_t hi = mul64(p->lo, mul_lo, &lo);
    hi += p->hi * mul_lo + p->lo * mul_hi;
    uint64_t sum = lo + inc_lo;
    hi += inc_hi + (sum < lo);
    lo = sum;
    p->hi = hi;
    p->lo = lo;
    /* DXSM "double xorshift multiply" */
    const uint64_t cheap_mul = UINT64_C(0xda942042e4dd58b5);
    hi ^= hi >> 32;
    hi *= cheap_mul;
    hi ^= hi >> 48;
    hi *= (lo | 1);
    return hi;
}

/* mix is the splitmix64 finaliser: it spreads consecutive ids over the whole seed space. */
static inline uint64_t mix(uint64_t x) {
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ x >> 30) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ x >> 27) * UINT64_C(0x94d049bb133111eb);
    return x ^ x >> 31;
}

/* floor_div is a / b rounded towards minus infinity (b > 0), so the grid extends before the epoch. */
static inline int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if (a % b < 0) q--;
    return q;
}

/* ---- formatting ------------------------------------------------------------------------------ */

/* append_digits writes v (>= 0) in decimal, zero-padded to width digits, and returns the end. */
static inline char *append_digits(char *b, int64_t v, int width) {
    char d[20];
    int i = 20;
    while (v > 0 || i > 20 - width) {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    }
    memcpy(b, d + i, (size_t)(20 - i));
    return b + (20 - i);
}

/* append_date writes the "2006-01-02T" prefix of Unix day. */
static char *append_date(char *b, int64_t day) {
    int64_t year;
    int month, mday;
    wc_civil_from_days(day, &year, &month, &mday);
    b = append_digits(b, year, 4);
    *b++ = '-';
    b = append_digits(b, month, 2);
    *b++ = '-';
    b = append_digits(b, mday, 2);
    *b++ = 'T';
    return b;
}

/* append_clock writes "15:04:05.000000Z" for rest microseconds into the day. */
static inline char *append_clock(char *b, int64_t rest) {
    int64_t sec = rest / 1000000;
    b = append_digits(b, sec / 3600, 2);
    *b++ = ':';
    b = append_digits(b, sec / 60 % 60, 2);
    *b++ = ':';
    b = append_digits(b, sec % 60, 2);
    *b++ = '.';
    b = append_digits(b, rest % 1000000, 6);
    *b++ = 'Z';
    return b;
}

/* append_timestamp writes the Unix microsecond time us as RFC 3339 in UTC with exactly six
 * fraction digits, 2025-03-01T12:00:06.000000Z. */
static char *append_timestamp(char *b, int64_t us) {
    int64_t day = floor_div(us, US_PER_DAY);
    b = append_date(b, day);
    return append_clock(b, us - day * US_PER_DAY);
}

/* append_host_name writes the host's name, web-012.example.com; the role prefix follows the id. */
static inline char *append_host_name(char *b, int64_t id) {
    const char *role = host_roles[id % (int64_t)LEN(host_roles)];
    size_t n = strlen(role);
    memcpy(b, role, n);
    b += n;
    *b++ = '-';
    b = append_digits(b, id, 3);
    memcpy(b, ".example.com", 12);
    return b + 12;
}

/* append_uuid writes event k's UUID, a version 4 UUID drawn from its own stream, as 8-4-4-4-12
 * hex (36 bytes). */
static inline char *append_uuid(char *b, int64_t k) {
    static const char hex[] = "0123456789abcdef";
    pcg r;
    pcg_seed(&r, SEED_UUID, mix((uint64_t)k));
    uint64_t hi = pcg_uint64(&r), lo = pcg_uint64(&r);
    hi = (hi & ~(UINT64_C(0xf) << 12)) | UINT64_C(0x4) << 12; /* version 4 */
    lo = (lo & ~(UINT64_C(0x3) << 62)) | UINT64_C(0x2) << 62; /* RFC 4122 variant */
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *b++ = '-';
        unsigned c = (unsigned)((i < 8 ? hi >> (56 - 8 * i) : lo >> (56 - 8 * (i - 8))) & 0xff);
        *b++ = hex[c >> 4];
        *b++ = hex[c & 0xf];
    }
    return b;
}

/* ---- the generator --------------------------------------------------------------------------- */

/* job is what all events of one job share, drawn from the job's own random stream. */
typedef struct {
    int playbook;
    int64_t first_host;
    int first_task;
    char created[32]; /* job_created, formatted */
    size_t created_len;
    char start_uuid[36]; /* uuid of the playbook_on_start event */
    char play_uuid[36];  /* uuid of the playbook_on_play_start event */
} job;

/* generator writes events. Rows are a pure function of the event id; the generator only caches
 * what consecutive events share (the job, the current task's uuid, the date). */
typedef struct {
    int64_t step_us;
    int64_t job_id;
    job job;
    int64_t task_id; /* id of the playbook_on_task_start whose uuid is in task */
    char task[36];
    int64_t day;  /* Unix day whose "YYYY-MM-DDT" prefix is in date */
    char date[11];
    char scratch[64];
} generator;

static void generator_init(generator *g, int64_t step_us) {
    memset(g, 0, sizeof *g);
    g->step_us = step_us;
    g->job_id = INT64_MIN;
    g->task_id = INT64_MIN;
    g->day = INT64_MIN;
}

/* job_for returns job j, drawing it when it is not the cached one. */
static const job *job_for(generator *g, int64_t j) {
    if (j == g->job_id) return &g->job;
    pcg r;
    pcg_seed(&r, SEED_JOB, mix((uint64_t)j));
    uint64_t x = pcg_uint64(&r), y = pcg_uint64(&r);
    int64_t start = j * EVENTS_PER_JOB;
    g->job_id = j;
    g->job.playbook = (int)(x % LEN(playbooks));
    g->job.first_host = 1 + (int64_t)((x >> 16) % (INVENTORY - HOSTS_PER_JOB + 1));
    g->job.first_task = (int)((x >> 32) % LEN(tasks));
    /* The job was created 2 to 29 seconds before its first event. */
    g->job.created_len =
        (size_t)(append_timestamp(g->job.created, start * g->step_us - (int64_t)(2 + y % 28) * 1000000) - g->job.created);
    append_uuid(g->job.start_uuid, start);
    append_uuid(g->job.play_uuid, start + 1);
    return &g->job;
}

/* task_uuid returns the uuid of the playbook_on_task_start event id. */
static const char *task_uuid(generator *g, int64_t id) {
    if (id != g->task_id) {
        append_uuid(g->task, id);
        g->task_id = id;
    }
    return g->task;
}

/* append_created writes the event time us like append_timestamp, reusing the cached date. */
static inline char *append_created(generator *g, char *b, int64_t us) {
    int64_t day = floor_div(us, US_PER_DAY);
    if (day != g->day) {
        g->day = day;
        append_date(g->date, day);
    }
    memcpy(b, g->date, sizeof g->date);
    return append_clock(b + sizeof g->date, us - day * US_PER_DAY);
}

/* outcome is a runner event's result, drawn from the event's own random stream. */
typedef struct {
    const char *event;
    bool failed, changed;
    int64_t duration_ms;
} outcome;

static inline outcome outcome_of(int64_t k) {
    pcg r;
    pcg_seed(&r, SEED_EVENT, mix((uint64_t)k));
    uint64_t x = pcg_uint64(&r);
    outcome o = {"runner_on_ok", false, false, 20 + (int64_t)((x >> 32) % 4000)};
    uint64_t p = x % 1000;
    if (p < 15) {
        o.event = "runner_on_failed";
        o.failed = true;
    } else if (p < 25) {
        o.event = "runner_on_unreachable";
        o.failed = true;
        o.duration_ms = 10000 + o.duration_ms;
    } else if (p < 125) {
        o.event = "runner_on_skipped";
        o.duration_ms = 1 + o.duration_ms % 5;
    } else {
        o.changed = (x >> 20) % 1000 < 300;
    }
    return o;
}

static inline void field_str(wc_csv *w, const char *s) { wc_csv_field_str(w, s); }
static inline void field_buf(wc_csv *w, const char *b, const char *end) { wc_csv_field(w, b, (size_t)(end - b)); }

/* common writes task_action … job_id. */
static void common(wc_csv *w, const char *action, bool failed, bool changed, const char *playbook, const char *play,
                   const char *task, const char *role, int64_t job_id) {
    field_str(w, action);
    wc_csv_field_bool(w, failed);
    wc_csv_field_bool(w, changed);
    field_str(w, playbook);
    field_str(w, play);
    field_str(w, task);
    field_str(w, role);
    wc_csv_field_i64(w, job_id);
}

/* no_host writes host_id and host_name of an event that is not about a host: AWX stores no host
 * id and an empty name. */
static inline void no_host(wc_csv *w) {
    wc_csv_field_null(w);
    wc_csv_field(w, "", 0);
}

/* event writes the fields of event k (without ending the row). */
static void event(generator *g, wc_csv *w, int64_t k) {
    int64_t j = floor_div(k, EVENTS_PER_JOB);
    int64_t i = k - j * EVENTS_PER_JOB;
    const job *jb = job_for(g, j);
    const struct playbook *pb = &playbooks[jb->playbook];
    int64_t start = j * EVENTS_PER_JOB; /* id of the job's playbook_on_start event */
    char *s = g->scratch;

    wc_csv_field_i64(w, k);                                 /* id */
    char *end = append_created(g, s, k * g->step_us);
    field_buf(w, s, end);                                   /* created */
    field_buf(w, s, end);                                   /* modified */
    wc_csv_field(w, jb->created, jb->created_len);          /* job_created */
    field_buf(w, s, append_uuid(s, k));                     /* uuid */

    if (i == 0) {
        wc_csv_field_null(w); /* parent_uuid */
        field_str(w, "playbook_on_start");
        common(w, "", false, false, pb->file, "", "", "", j);
        no_host(w);
        wc_csv_field_null(w); /* duration */
    } else if (i == 1) {
        wc_csv_field(w, jb->start_uuid, 36);
        field_str(w, "playbook_on_play_start");
        common(w, "", false, false, pb->file, pb->play, "", "", j);
        no_host(w);
        wc_csv_field_null(w);
    } else if (i == STATS_EVENT) {
        bool failed = false, changed = false;
        for (int64_t b = 0; b < TASKS_PER_JOB; b++) {
            for (int64_t h = 1; h <= HOSTS_PER_JOB; h++) {
                outcome o = outcome_of(start + FIRST_TASK + b * TASK_BLOCK + h);
                failed = failed || o.failed;
                changed = changed || o.changed;
            }
        }
        wc_csv_field(w, jb->start_uuid, 36);
        field_str(w, "playbook_on_stats");
        common(w, "", failed, changed, pb->file, pb->play, "", "", j);
        no_host(w);
        wc_csv_field_decimal(w, STATS_EVENT * g->step_us / 1000, 3); /* seconds, three decimals */
    } else {
        int64_t block = (i - FIRST_TASK) / TASK_BLOCK;
        int64_t pos = (i - FIRST_TASK) % TASK_BLOCK;
        const struct task *t = &tasks[(jb->first_task + block) % (int64_t)LEN(tasks)];
        if (pos == 0) {
            wc_csv_field(w, jb->play_uuid, 36);
            field_str(w, "playbook_on_task_start");
            common(w, t->action, false, false, pb->file, pb->play, t->name, t->role, j);
            no_host(w);
            wc_csv_field_null(w);
            return;
        }
        outcome o = outcome_of(k);
        wc_csv_field(w, task_uuid(g, k - pos), 36); /* the task's playbook_on_task_start */
        field_str(w, o.event);
        common(w, t->action, o.failed, o.changed, pb->file, pb->play, t->name, t->role, j);
        int64_t host = jb->first_host + pos - 1;
        wc_csv_field_i64(w, host);
        field_buf(w, s, append_host_name(s, host));
        wc_csv_field_decimal(w, o.duration_ms, 3);
    }
}

/* ---- the collector --------------------------------------------------------------------------- */

/* parse_int is Go's strconv.ParseInt(s, 10, 64): an optional sign and decimal digits only. */
static bool parse_int(const char *s, int64_t *out) {
    bool neg = false;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (*s == 0) return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* quote writes s quoted as Go's %q does for printable text: "…" with \" \\ and the C escapes;
 * other control bytes as \xNN. Bytes of multi-byte UTF-8 are kept (the host gives valid UTF-8). */
static size_t quote(char *out, size_t cap, const char *s) {
    size_t n = 0;
#define PUT(c) do { if (n + 1 < cap) out[n] = (c); n++; } while (0)
    PUT('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = NULL;
        switch (c) {
        case '\a': esc = "\\a"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\v': esc = "\\v"; break;
        case '\\': esc = "\\\\"; break;
        case '"': esc = "\\\""; break;
        }
        if (esc) {
            PUT(esc[0]);
            PUT(esc[1]);
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            PUT('\\');
            PUT('x');
            PUT(hex[c >> 4]);
            PUT(hex[c & 0xf]);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
#undef PUT
    if (cap > 0) out[n < cap ? n : cap - 1] = 0;
    return n;
}

/* bound formats a slice bound as the Go SDK's SliceInfo.String does: RFC 3339 with the fraction
 * digits needed, "-" when unset. */
static const char *bound(char out[WC_RFC3339_SIZE], bool has, int64_t t) {
    if (!has) return "-";
    wc_format_rfc3339(t, out, -1);
    return out;
}

static int32_t collect_job_events(void) {
    int64_t per_hour = DEFAULT_EVENTS_PER_HOUR;
    char *v = wc_param_dup("events_per_hour", NULL);
    if (v) {
        int64_t n;
        if (!parse_int(v, &n) || n < 1 || n > MAX_EVENTS_PER_HOUR) {
            char q[512];
            quote(q, sizeof q, v);
            wc_failf("job_events: parameter events_per_hour is %s, want an integer from 1 to %lld", q,
                     (long long)MAX_EVENTS_PER_HOUR);
            free(v);
            return 1;
        }
        per_hour = n;
        free(v);
    }

    wc_slice_info s;
    wc_slice(&s);
    if (!s.has_until) s.until = wc_now();
    if (!s.has_since) s.since = s.until - 3600 * WC_NANOS_PER_SECOND;

    /* Grid point k is at k*step since the Unix epoch; the slice (since, until] holds k in [first, last]. */
    int64_t step_us = US_PER_HOUR / per_hour;
    int64_t step_ns = step_us * 1000;
    int64_t first = floor_div(s.since, step_ns) + 1;
    int64_t last = floor_div(s.until, step_ns);

    wc_csv w;
    wc_csv_init(&w, NULL, 0);
    if (wc_csv_header(&w, columns, LEN(columns)) != WC_OK) return 1;
    static generator g;
    generator_init(&g, step_us);
    for (int64_t k = first; k <= last; k++) {
        event(&g, &w, k);
        if (wc_csv_end_row(&w) != WC_OK) return 1;
    }
    if (wc_csv_flush(&w) != WC_OK) return 1;
    char a[WC_RFC3339_SIZE], b[WC_RFC3339_SIZE];
    wc_logf(WC_LOG_INFO, "job_events: %lld events in (%s, %s], one every %lldµs", (long long)wc_csv_rows(&w),
            bound(a, s.has_since, s.since), bound(b, s.has_until, s.until), (long long)step_us);
    return 0;
}

__attribute__((export_name("job_events"))) int32_t job_events(void) { return collect_job_events(); }
