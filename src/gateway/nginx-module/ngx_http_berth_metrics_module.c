/*
 * Requests and their latency per route, counted by nginx itself (issue 22): no proxy of
 * berth's own in the path, and no log line per request to parse.
 *
 *   http {
 *       berth_metrics_zone 2m;                 # shared by the workers
 *       server { location / { berth_route_metrics on; proxy_pass ...; } }
 *       server { listen 127.0.0.1:ADMIN; location = /route-metrics { berth_metrics; } }
 *   }
 *
 * A request is counted under its route (the routes module's key, when the route table has
 * it): by status class, and by latency in fixed buckets, with the sum in milliseconds. A
 * path that is no route is not counted, so the set of series is the set of routes. The
 * counters live in shared memory: a slot per route, found by hashing its prefix, claimed
 * under the zone's lock once and then only incremented with atomic adds. berth reads
 *
 *   /<prefix> <1xx> <2xx> <3xx> <4xx> <5xx> <sum ms> <bucket 0> ... <bucket N-1>
 *
 * per line (bucket counts are not cumulative; the last bucket holds what is slower than
 * every bound).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define BERTH_METRIC_KEY_MAX  128
#define BERTH_METRIC_BUCKETS  12
#define BERTH_METRIC_SLOTS    2048


/* Upper bounds of the latency buckets, in milliseconds; the last bucket is unbounded. */
static const ngx_msec_t  berth_bounds[BERTH_METRIC_BUCKETS - 1] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};


typedef struct {
    u_char              key[BERTH_METRIC_KEY_MAX];
    /* 0 while the slot is free; written last, once the key is in place. */
    ngx_atomic_t        len;
    ngx_atomic_t        status[5];
    ngx_atomic_t        buckets[BERTH_METRIC_BUCKETS];
    ngx_atomic_t        sum_ms;
} berth_metric_slot_t;


typedef struct {
    ngx_shmtx_sh_t      lock;
    /* Requests of routes that found no free slot. */
    ngx_atomic_t        dropped;
    berth_metric_slot_t slots[BERTH_METRIC_SLOTS];
} berth_metrics_shm_t;


typedef struct {
    ngx_shm_zone_t     *zone;
    berth_metrics_shm_t *shm;
    ngx_shmtx_t         mutex;
} berth_metrics_main_conf_t;


typedef struct {
    ngx_flag_t          count;
} berth_metrics_loc_conf_t;


/* The routes module's key of a request, when its route is in the table (ngx_http_berth_routes_module.c). */
ngx_int_t ngx_http_berth_route_of(ngx_http_request_t *r, ngx_str_t *key);

static void *berth_metrics_create_main_conf(ngx_conf_t *cf);
static void *berth_metrics_create_loc_conf(ngx_conf_t *cf);
static char *berth_metrics_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *berth_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *berth_metrics_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t berth_metrics_init_zone(ngx_shm_zone_t *zone, void *data);
static ngx_int_t berth_metrics_postconfiguration(ngx_conf_t *cf);
static ngx_int_t berth_metrics_log(ngx_http_request_t *r);
static ngx_int_t berth_metrics_report(ngx_http_request_t *r);
static berth_metric_slot_t *berth_metrics_slot(berth_metrics_main_conf_t *mcf, ngx_str_t *key);


static ngx_command_t  berth_metrics_commands[] = {

    { ngx_string("berth_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      berth_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("berth_route_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(berth_metrics_loc_conf_t, count),
      NULL },

    { ngx_string("berth_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      berth_metrics_endpoint,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  berth_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    berth_metrics_postconfiguration,       /* postconfiguration */
    berth_metrics_create_main_conf,        /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    berth_metrics_create_loc_conf,         /* create location configuration */
    berth_metrics_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_http_berth_metrics_module = {
    NGX_MODULE_V1,
    &berth_metrics_module_ctx,             /* module context */
    berth_metrics_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
berth_metrics_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(berth_metrics_main_conf_t));
}


static void *
berth_metrics_create_loc_conf(ngx_conf_t *cf)
{
    berth_metrics_loc_conf_t  *lcf;

    lcf = ngx_palloc(cf->pool, sizeof(berth_metrics_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    lcf->count = NGX_CONF_UNSET;

    return lcf;
}


static char *
berth_metrics_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    berth_metrics_loc_conf_t  *prev = parent;
    berth_metrics_loc_conf_t  *lcf = child;

    ngx_conf_merge_value(lcf->count, prev->count, 0);

    return NGX_CONF_OK;
}


static char *
berth_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    berth_metrics_main_conf_t  *mcf = conf;

    ssize_t     size;
    ngx_str_t  *value, name = ngx_string("berth_metrics");

    if (mcf->zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || (size_t) size < sizeof(berth_metrics_shm_t) + 8 * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "berth_metrics_zone \"%V\" is too small,"
                           " it needs at least %uzk", &value[1],
                           (sizeof(berth_metrics_shm_t) + 8 * ngx_pagesize) / 1024 + 1);
        return NGX_CONF_ERROR;
    }

    mcf->zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_berth_metrics_module);
    if (mcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->zone->init = berth_metrics_init_zone;
    mcf->zone->data = mcf;

    return NGX_CONF_OK;
}


static ngx_int_t
berth_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    berth_metrics_main_conf_t  *mcf = zone->data;
    berth_metrics_main_conf_t  *old = data;

    ngx_slab_pool_t  *pool;

    pool = (ngx_slab_pool_t *) zone->shm.addr;

    /* A reload keeps the counts: the zone of the same name and size is reused. */
    if (old != NULL) {
        mcf->shm = old->shm;

    } else if (zone->shm.exists) {
        mcf->shm = pool->data;

    } else {
        mcf->shm = ngx_slab_calloc(pool, sizeof(berth_metrics_shm_t));
        if (mcf->shm == NULL) {
            return NGX_ERROR;
        }
        pool->data = mcf->shm;
    }

    return ngx_shmtx_create(&mcf->mutex, &mcf->shm->lock, NULL);
}


static char *
berth_metrics_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = berth_metrics_report;

    return NGX_CONF_OK;
}


static ngx_int_t
berth_metrics_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = berth_metrics_log;

    return NGX_OK;
}


static ngx_int_t
berth_metrics_log(ngx_http_request_t *r)
{
    ngx_str_t                  key;
    ngx_uint_t                 status, bucket;
    ngx_msec_int_t             ms;
    ngx_time_t                *now;
    berth_metric_slot_t       *slot;
    berth_metrics_loc_conf_t  *lcf;
    berth_metrics_main_conf_t *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_berth_metrics_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_berth_metrics_module);

    if (!lcf->count || mcf->shm == NULL || r != r->main
        || ngx_http_berth_route_of(r, &key) != NGX_OK)
    {
        return NGX_OK;
    }

    slot = berth_metrics_slot(mcf, &key);
    if (slot == NULL) {
        (void) ngx_atomic_fetch_add(&mcf->shm->dropped, 1);
        return NGX_OK;
    }

    status = r->headers_out.status / 100;
    if (status < 1 || status > 5) {
        status = 5;
    }

    now = ngx_timeofday();
    ms = (ngx_msec_int_t) ((now->sec - r->start_sec) * 1000 + (now->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    for (bucket = 0; bucket < BERTH_METRIC_BUCKETS - 1; bucket++) {
        if ((ngx_msec_t) ms <= berth_bounds[bucket]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&slot->status[status - 1], 1);
    (void) ngx_atomic_fetch_add(&slot->buckets[bucket], 1);
    (void) ngx_atomic_fetch_add(&slot->sum_ms, ms);

    return NGX_OK;
}


/* The route's slot; claimed under the lock the first time. NULL when the zone is full. */
static berth_metric_slot_t *
berth_metrics_slot(berth_metrics_main_conf_t *mcf, ngx_str_t *key)
{
    ngx_uint_t            i, n, start;
    berth_metric_slot_t  *slot;

    if (key->len == 0 || key->len > BERTH_METRIC_KEY_MAX) {
        return NULL;
    }

    start = ngx_hash_key(key->data, key->len) % BERTH_METRIC_SLOTS;

    for (n = 0; n < BERTH_METRIC_SLOTS; n++) {
        i = (start + n) % BERTH_METRIC_SLOTS;
        slot = &mcf->shm->slots[i];

        if (slot->len == key->len && ngx_memcmp(slot->key, key->data, key->len) == 0) {
            return slot;
        }

        if (slot->len != 0) {
            continue;
        }

        ngx_shmtx_lock(&mcf->mutex);

        /* Another worker may have claimed it meanwhile, for this route or another. */
        if (slot->len == 0) {
            ngx_memcpy(slot->key, key->data, key->len);
            ngx_memory_barrier();
            slot->len = key->len;
            ngx_shmtx_unlock(&mcf->mutex);
            return slot;
        }

        ngx_shmtx_unlock(&mcf->mutex);

        if (slot->len == key->len && ngx_memcmp(slot->key, key->data, key->len) == 0) {
            return slot;
        }
    }

    return NULL;
}


static ngx_int_t
berth_metrics_report(ngx_http_request_t *r)
{
    size_t                      len, line;
    u_char                     *p;
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, k, used;
    ngx_chain_t                 out;
    berth_metric_slot_t        *slot;
    berth_metrics_main_conf_t  *mcf;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_berth_metrics_module);
    if (mcf->shm == NULL) {
        return NGX_HTTP_NOT_FOUND;
    }

    used = 0;
    for (i = 0; i < BERTH_METRIC_SLOTS; i++) {
        if (mcf->shm->slots[i].len != 0) {
            used++;
        }
    }

    /* A line: the key, then 5 + 1 + buckets numbers; room for routes claimed while writing. */
    line = BERTH_METRIC_KEY_MAX + (6 + BERTH_METRIC_BUCKETS) * (NGX_ATOMIC_T_LEN + 1) + 1;
    len = sizeof("dropped ") + NGX_ATOMIC_T_LEN + 1 + (used + 16) * line;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "dropped %uA\n", mcf->shm->dropped);

    for (i = 0; i < BERTH_METRIC_SLOTS; i++) {
        slot = &mcf->shm->slots[i];
        if (slot->len == 0) {
            continue;
        }

        if ((size_t) (b->end - p) < line) {
            break;
        }

        p = ngx_cpymem(p, slot->key, slot->len);

        for (k = 0; k < 5; k++) {
            p = ngx_sprintf(p, " %uA", slot->status[k]);
        }

        p = ngx_sprintf(p, " %uA", slot->sum_ms);

        for (k = 0; k < BERTH_METRIC_BUCKETS; k++) {
            p = ngx_sprintf(p, " %uA", slot->buckets[k]);
        }

        *p++ = '\n';
    }

    b->last = p;
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
