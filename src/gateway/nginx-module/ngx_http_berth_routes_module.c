/*
 * berth's route table in nginx: picks the peer of every proxied request from a table that
 * berth writes to a file, without a reload and without running Lua per request (ADR 005).
 *
 *   upstream berth_targets {
 *       server 0.0.0.1;    # never used, but nginx wants one
 *       berth_routes /data/nginx/routes/current
 *                    not_found=unix:/data/run/not-found.sock
 *                    unavailable=unix:/data/run/unavailable.sock
 *                    bad_request=unix:/data/run/bad-request.sock
 *                    host_suffix=.apps.example.org;    # optional: host routing
 *       keepalive 64;      # after berth_routes, which it wraps
 *   }
 *
 * "current" is a symbolic link to a table file in the same directory. berth writes each
 * table under a new name and then replaces the link, so a worker never reads half of one.
 * A worker reads the link at most once per tick of its millisecond clock, and loads the
 * table it names when the name changed. A table holds one route per line:
 *
 *   /<first path segment> <address>:<port> [<address>:<port> ...]
 *
 * with IPv6 addresses in brackets, or "/<segment> strip <address>:<port> ..." for a service
 * that cannot live under a path prefix: in a location with "berth_strip_prefix on", its
 * requests lose the prefix ("/a-grafana/login" reaches it as "/login", normalised and
 * escaped again). The route of a request is the first segment of its
 * normalised path ($uri). A path that is no route goes to the not_found peer, a route
 * without targets to the unavailable peer: internal servers that answer 404 and 503.
 *
 * The target receives the path as the client sent it, so a request whose raw path does not
 * begin with the same segment ("/a-web/../b-api/x", "/a-web%2F..%2Fb-api/x", which
 * normalise to /b-api/x) goes to the bad_request peer, which answers 400: a service only
 * ever sees paths under its own prefix.
 *
 * With host_suffix, a request whose Host is one label followed by the suffix
 * ("a-web.apps.example.org") is routed by that label instead ("/a-web"), whatever its path:
 * the whole host belongs to the service, which sees the path unchanged. Any other Host is
 * routed by its path as above.
 *
 * Format 2 (ADR 011) begins with the line "#berth-routes 2" and adds colours: a route's
 * colour is a line of its own keyed "/<segment>/<colour>". A request that names a colour,
 * in the header X-Berth-Colour or else the cookie berth_colour (a lower-case word of 1 to 16
 * letters), goes to that colour's line when the table has one, and to the route's own line
 * otherwise. No request path can produce such a key by itself: a path is keyed by its first
 * segment only. A table without the first line is format 1, with one segment per key.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* A connect error to a target that just died is retried on another one, at most this often. */
#define BERTH_MAX_TRIES   3
#define BERTH_MAX_TABLE   (16 * 1024 * 1024)
#define BERTH_NAME_MAX    255
/* A DNS name, without trailing dot. */
#define BERTH_HOST_MAX    253
/* Colours are lower-case words of at most this many letters (domain/colours.ts). */
#define BERTH_COLOUR_MAX  16
#define BERTH_FORMAT_LINE "#berth-routes "


typedef struct {
    ngx_str_t            prefix;
    ngx_addr_t          *targets;
    ngx_uint_t           count;
    /* Round robin, per worker. */
    ngx_uint_t           last;
    /* The target receives the path without the prefix. */
    unsigned             strip:1;
} berth_route_t;


typedef struct {
    ngx_pool_t          *pool;
    /* Open addressing on the prefix; mask + 1 slots, at least twice the routes. */
    berth_route_t      **slots;
    ngx_uint_t           mask;
} berth_table_t;


typedef struct {
    u_char               data[BERTH_NAME_MAX];
    size_t               len;
} berth_name_t;


typedef struct {
    ngx_str_t            link;
    ngx_str_t            dir;
    ngx_addr_t           not_found;
    ngx_addr_t           unavailable;
    ngx_addr_t           bad_request;
    /* Lowercase, with its leading dot; empty without host routing. */
    ngx_str_t            host_suffix;
    /* $http_x_berth_colour and $cookie_berth_colour, which name a colour. */
    ngx_int_t            colour_header;
    ngx_int_t            colour_cookie;

    /*
     * The worker's own state: every worker gets its copy of the configuration at fork.
     * "loaded" names the table in use; "refused" a table that did not parse, so that it
     * is not read again every millisecond.
     */
    berth_table_t       *table;
    berth_name_t         loaded;
    berth_name_t         refused;
    ngx_err_t            link_err;
    ngx_msec_t           checked_at;
    unsigned             checked:1;
} berth_routes_conf_t;


typedef struct {
    berth_routes_conf_t *conf;
    /* The route's key, followed by "/<colour>" when the request names a colour. */
    ngx_str_t            key;
    size_t               route_len;
    /* 1-based index of the target the last try went to; 0 before the first. */
    ngx_uint_t           tried;
    /* The raw path names another first segment than the normalised one. */
    unsigned             bad:1;
    /* The key is the Host's: the service owns every path, and none is stripped. */
    unsigned             by_host:1;
    /*
     * Copies of the peer: a retry or a log line may come after the worker has swapped
     * tables and freed the one the peer came from.
     */
    ngx_sockaddr_t       sockaddr;
    ngx_str_t            name;
    u_char               name_data[NGX_SOCKADDR_STRLEN];
} berth_peer_data_t;


/* The routes' configuration, for the phase handler, which runs before the upstream's peer init. */
typedef struct {
    berth_routes_conf_t *routes;
} berth_main_conf_t;


typedef struct {
    ngx_flag_t           strip_prefix;
} berth_loc_conf_t;


static ngx_int_t berth_init_process(ngx_cycle_t *cycle);
static ngx_int_t berth_postconfiguration(ngx_conf_t *cf);
static void *berth_create_main_conf(ngx_conf_t *cf);
static void *berth_create_loc_conf(ngx_conf_t *cf);
static char *berth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static ngx_int_t berth_strip_handler(ngx_http_request_t *r);
static berth_peer_data_t *berth_request_key(ngx_http_request_t *r,
    berth_routes_conf_t *conf);
static void *berth_create_conf(ngx_conf_t *cf);
static char *berth_routes(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t berth_route_key(ngx_http_request_t *r,
    berth_routes_conf_t *conf, berth_peer_data_t *bp);
static ngx_int_t berth_colour_key(ngx_http_request_t *r,
    berth_routes_conf_t *conf, berth_peer_data_t *bp);
static ngx_uint_t berth_same_segment(ngx_str_t *raw, ngx_str_t *key);
static berth_route_t *berth_route_of(berth_peer_data_t *bp);
static ngx_int_t berth_peer_param(ngx_conf_t *cf, ngx_str_t *value,
    char *name, ngx_addr_t *peer);
static ngx_int_t berth_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t berth_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static ngx_int_t berth_get_peer(ngx_peer_connection_t *pc, void *data);
static void berth_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state);
static void berth_refresh(berth_routes_conf_t *conf);
static void berth_load(berth_routes_conf_t *conf, u_char *name, size_t len);
static berth_table_t *berth_parse(ngx_pool_t *pool, u_char *text, size_t size,
    u_char *path);
static ngx_int_t berth_parse_format(u_char **text, u_char *end, u_char *path);
static berth_route_t *berth_lookup(berth_table_t *table, ngx_str_t *key);


static ngx_command_t  berth_routes_commands[] = {

    { ngx_string("berth_routes"),
      NGX_HTTP_UPS_CONF|NGX_CONF_TAKE4|NGX_CONF_TAKE5,
      berth_routes,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("berth_strip_prefix"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(berth_loc_conf_t, strip_prefix),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  berth_routes_module_ctx = {
    NULL,                                  /* preconfiguration */
    berth_postconfiguration,               /* postconfiguration */
    berth_create_main_conf,                /* create main configuration */
    NULL,                                  /* init main configuration */
    berth_create_conf,                     /* create server configuration */
    NULL,                                  /* merge server configuration */
    berth_create_loc_conf,                 /* create location configuration */
    berth_merge_loc_conf                   /* merge location configuration */
};


ngx_module_t  ngx_http_berth_routes_module = {
    NGX_MODULE_V1,
    &berth_routes_module_ctx,              /* module context */
    berth_routes_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    berth_init_process,                    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * A new worker loads the table at once: until a worker has loaded one, it has no table to
 * fall back on should the link point at a damaged file.
 */
static ngx_int_t
berth_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    berth_routes_conf_t            *conf;
    ngx_http_upstream_srv_conf_t  **uscfp;
    ngx_http_upstream_main_conf_t  *umcf;

    umcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_upstream_module);
    if (umcf == NULL) {
        return NGX_OK;
    }

    uscfp = umcf->upstreams.elts;

    for (i = 0; i < umcf->upstreams.nelts; i++) {
        /* Upstreams nginx made up for a proxy_pass to an address have no configuration. */
        if (uscfp[i]->srv_conf == NULL) {
            continue;
        }

        conf = ngx_http_conf_upstream_srv_conf(uscfp[i], ngx_http_berth_routes_module);
        if (conf->link.data != NULL) {
            berth_refresh(conf);
        }
    }

    return NGX_OK;
}


static void *
berth_create_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(berth_routes_conf_t));
}


static void *
berth_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(berth_main_conf_t));
}


static void *
berth_create_loc_conf(ngx_conf_t *cf)
{
    berth_loc_conf_t  *lcf;

    lcf = ngx_palloc(cf->pool, sizeof(berth_loc_conf_t));
    if (lcf == NULL) {
        return NULL;
    }

    lcf->strip_prefix = NGX_CONF_UNSET;

    return lcf;
}


static char *
berth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    berth_loc_conf_t  *prev = parent;
    berth_loc_conf_t  *lcf = child;

    ngx_conf_merge_value(lcf->strip_prefix, prev->strip_prefix, 0);

    return NGX_CONF_OK;
}


static ngx_int_t
berth_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* After the location is found and rewritten, before the proxy builds its request. */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = berth_strip_handler;

    return NGX_OK;
}


/*
 * In a location with berth_strip_prefix on: the request's route, found once here and kept
 * for the peer init, and for a route that strips, the path without its prefix.
 */
static ngx_int_t
berth_strip_handler(ngx_http_request_t *r)
{
    berth_route_t      *route;
    berth_loc_conf_t   *lcf;
    berth_main_conf_t  *mcf;
    berth_peer_data_t  *bp;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_berth_routes_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_berth_routes_module);

    if (!lcf->strip_prefix || mcf->routes == NULL
        || ngx_http_get_module_ctx(r, ngx_http_berth_routes_module) != NULL)
    {
        return NGX_DECLINED;
    }

    berth_refresh(mcf->routes);

    bp = berth_request_key(r, mcf->routes);
    if (bp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, bp, ngx_http_berth_routes_module);

    if (bp->bad || bp->by_host) {
        return NGX_DECLINED;
    }

    route = berth_route_of(bp);
    if (route == NULL || !route->strip) {
        return NGX_DECLINED;
    }

    /* The route's part of the key is the start of $uri; what follows it is the path the target sees. */
    if (r->uri.len == bp->route_len) {
        ngx_str_set(&r->uri, "/");

    } else {
        r->uri.data += bp->route_len;
        r->uri.len -= bp->route_len;
    }

    /* The proxy sends $uri (and its arguments) instead of the raw request line's path. */
    r->valid_unparsed_uri = 0;

    return NGX_DECLINED;
}


/* A request's route key, in a new peer data. */
static berth_peer_data_t *
berth_request_key(ngx_http_request_t *r, berth_routes_conf_t *conf)
{
    berth_peer_data_t  *bp;

    bp = ngx_palloc(r->pool, sizeof(berth_peer_data_t));
    if (bp == NULL) {
        return NULL;
    }

    bp->conf = conf;
    bp->tried = 0;

    if (berth_route_key(r, conf, bp) != NGX_OK) {
        return NULL;
    }

    return bp;
}


static char *
berth_routes(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    berth_routes_conf_t  *bcf = conf;

    u_char                        *slash;
    ngx_int_t                      rc;
    ngx_str_t                     *value, name;
    ngx_uint_t                     i;
    berth_main_conf_t             *mcf;
    ngx_http_upstream_srv_conf_t  *uscf;

    if (bcf->link.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* The parser ends every argument with a NUL, so the path can go to readlink(). */
    bcf->link = value[1];
    slash = (u_char *) strrchr((char *) bcf->link.data, '/');
    if (bcf->link.data[0] != '/' || slash == NULL
        || (size_t) (slash - bcf->link.data) + 1 + BERTH_NAME_MAX + 1 > NGX_MAX_PATH)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "berth_routes needs an absolute path, not \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }
    bcf->dir.data = bcf->link.data;
    bcf->dir.len = slash - bcf->link.data;

    for (i = 2; i < cf->args->nelts; i++) {
        rc = berth_peer_param(cf, &value[i], "not_found=", &bcf->not_found);

        if (rc == NGX_DECLINED) {
            rc = berth_peer_param(cf, &value[i], "unavailable=", &bcf->unavailable);
        }

        if (rc == NGX_DECLINED) {
            rc = berth_peer_param(cf, &value[i], "bad_request=", &bcf->bad_request);
        }

        if (rc == NGX_DECLINED
            && ngx_strncmp(value[i].data, "host_suffix=.", 13) == 0
            && value[i].len > 13 && value[i].len - 12 <= BERTH_HOST_MAX)
        {
            bcf->host_suffix.data = value[i].data + 12;
            bcf->host_suffix.len = value[i].len - 12;
            ngx_strlow(bcf->host_suffix.data, bcf->host_suffix.data,
                       bcf->host_suffix.len);
            continue;
        }

        if (rc == NGX_DECLINED) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (rc != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (bcf->not_found.sockaddr == NULL || bcf->unavailable.sockaddr == NULL
        || bcf->bad_request.sockaddr == NULL)
    {
        return "needs not_found=, unavailable= and bad_request=";
    }

    ngx_str_set(&name, "http_x_berth_colour");
    bcf->colour_header = ngx_http_get_variable_index(cf, &name);
    ngx_str_set(&name, "cookie_berth_colour");
    bcf->colour_cookie = ngx_http_get_variable_index(cf, &name);

    if (bcf->colour_header == NGX_ERROR || bcf->colour_cookie == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    uscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_upstream_module);

    if (uscf->peer.init_upstream) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "load balancing method redefined");
    }

    uscf->peer.init_upstream = berth_init_upstream;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_berth_routes_module);
    mcf->routes = bcf;

    return NGX_CONF_OK;
}


/* A "name=address" parameter into peer; NGX_DECLINED when value is another parameter. */
static ngx_int_t
berth_peer_param(ngx_conf_t *cf, ngx_str_t *value, char *name, ngx_addr_t *peer)
{
    size_t     len;
    ngx_url_t  u;

    len = ngx_strlen(name);

    if (value->len < len || ngx_strncmp(value->data, name, len) != 0) {
        return NGX_DECLINED;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url.data = value->data + len;
    u.url.len = value->len - len;
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"",
                           u.err ? u.err : "not one address", value);
        return NGX_ERROR;
    }

    *peer = u.addrs[0];

    return NGX_OK;
}


static ngx_int_t
berth_init_upstream(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    us->peer.init = berth_init_peer;

    return NGX_OK;
}


static ngx_int_t
berth_init_peer(ngx_http_request_t *r, ngx_http_upstream_srv_conf_t *us)
{
    berth_route_t        *route;
    berth_peer_data_t    *bp;
    berth_routes_conf_t  *conf;

    conf = ngx_http_conf_upstream_srv_conf(us, ngx_http_berth_routes_module);

    berth_refresh(conf);

    /* The phase handler found the key before it stripped the prefix off $uri. */
    bp = ngx_http_get_module_ctx(r, ngx_http_berth_routes_module);
    if (bp == NULL) {
        bp = berth_request_key(r, conf);
        if (bp == NULL) {
            return NGX_ERROR;
        }
    }

    route = berth_route_of(bp);

    r->upstream->peer.data = bp;
    r->upstream->peer.get = berth_get_peer;
    r->upstream->peer.free = berth_free_peer;
    r->upstream->peer.tries = (route == NULL || route->count == 0)
                              ? 1 : ngx_min(route->count, BERTH_MAX_TRIES);

    return NGX_OK;
}


/*
 * The route a request asks for, as the key the table is looked up by, and whether it may be
 * served at all (bp->bad). Every part of the key is computed here, and only here.
 */
static ngx_int_t
berth_route_key(ngx_http_request_t *r, berth_routes_conf_t *conf,
    berth_peer_data_t *bp)
{
    u_char     *slash;
    size_t      len;
    ngx_str_t  *host;

    /* nginx has validated the Host: lowercase, without port or trailing dot. */
    host = &r->headers_in.server;

    if (conf->host_suffix.len > 0 && host->len > conf->host_suffix.len) {
        len = host->len - conf->host_suffix.len;

        if (ngx_strncmp(host->data + len, conf->host_suffix.data,
                        conf->host_suffix.len) == 0
            && ngx_strlchr(host->data, host->data + len, '.') == NULL)
        {
            /* a-web.apps.example.org -> /a-web; the service owns every path. */
            bp->key.data = ngx_pnalloc(r->pool, len + 1);
            if (bp->key.data == NULL) {
                return NGX_ERROR;
            }

            bp->key.data[0] = '/';
            ngx_memcpy(bp->key.data + 1, host->data, len);
            bp->key.len = len + 1;
            bp->bad = 0;
            bp->by_host = 1;

            return berth_colour_key(r, conf, bp);
        }
    }

    /* The first segment of the normalised path: /exp-2-web/x -> /exp-2-web. */
    slash = NULL;
    if (r->uri.len > 1) {
        slash = ngx_strlchr(r->uri.data + 1, r->uri.data + r->uri.len, '/');
    }

    bp->key.data = r->uri.data;
    bp->key.len = slash ? (size_t) (slash - r->uri.data) : r->uri.len;
    bp->bad = !berth_same_segment(&r->unparsed_uri, &bp->key);
    bp->by_host = 0;

    return berth_colour_key(r, conf, bp);
}


/*
 * Appends "/<colour>" to the route's key when the request names a colour: the header first,
 * then the cookie. A value that is no colour name is ignored, as one the route does not have:
 * the cookie is sent to every service on the host, and most have no colours.
 */
static ngx_int_t
berth_colour_key(ngx_http_request_t *r, berth_routes_conf_t *conf,
    berth_peer_data_t *bp)
{
    u_char                     *key;
    ngx_uint_t                  i, n;
    ngx_http_variable_value_t  *vv;
    ngx_int_t                   sources[2];

    bp->route_len = bp->key.len;
    sources[0] = conf->colour_header;
    sources[1] = conf->colour_cookie;

    for (n = 0; n < 2; n++) {
        vv = ngx_http_get_indexed_variable(r, sources[n]);

        if (vv == NULL || vv->not_found || vv->len == 0
            || vv->len > BERTH_COLOUR_MAX)
        {
            continue;
        }

        for (i = 0; i < vv->len; i++) {
            if (vv->data[i] < 'a' || vv->data[i] > 'z') {
                break;
            }
        }

        if (i < vv->len) {
            continue;
        }

        key = ngx_pnalloc(r->pool, bp->key.len + 1 + vv->len);
        if (key == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(key, bp->key.data, bp->key.len);
        key[bp->key.len] = '/';
        ngx_memcpy(key + bp->key.len + 1, vv->data, vv->len);
        bp->key.data = key;
        bp->key.len += 1 + vv->len;

        return NGX_OK;
    }

    return NGX_OK;
}


/* The request's route: its colour's line when it names one the table has, else the route's own. */
static berth_route_t *
berth_route_of(berth_peer_data_t *bp)
{
    ngx_str_t       key;
    berth_route_t  *route;

    if (bp->bad) {
        return NULL;
    }

    if (bp->key.len > bp->route_len) {
        route = berth_lookup(bp->conf->table, &bp->key);
        if (route != NULL) {
            return route;
        }
    }

    key.data = bp->key.data;
    key.len = bp->route_len;

    return berth_lookup(bp->conf->table, &key);
}


static ngx_int_t
berth_get_peer(ngx_peer_connection_t *pc, void *data)
{
    berth_peer_data_t  *bp = data;

    ngx_uint_t      index;
    ngx_addr_t     *peer;
    berth_route_t  *route;

    pc->cached = 0;
    pc->connection = NULL;

    /* Looked up on every try: the worker may have loaded another table since the last one. */
    route = berth_route_of(bp);

    if (bp->bad) {
        peer = &bp->conf->bad_request;

    } else if (route == NULL) {
        peer = &bp->conf->not_found;

    } else if (route->count == 0) {
        peer = &bp->conf->unavailable;

    } else {
        if (bp->tried == 0) {
            index = route->last % route->count + 1;
            route->last = index;

        } else {
            /*
             * A retry takes the target after the one that failed. The round-robin
             * counter has moved on with concurrent requests and could give it out again.
             */
            index = bp->tried % route->count + 1;
        }

        bp->tried = index;
        peer = &route->targets[index - 1];
    }

    ngx_memcpy(&bp->sockaddr, peer->sockaddr, peer->socklen);
    bp->name.len = ngx_min(peer->name.len, NGX_SOCKADDR_STRLEN);
    bp->name.data = bp->name_data;
    ngx_memcpy(bp->name_data, peer->name.data, bp->name.len);

    pc->sockaddr = &bp->sockaddr.sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &bp->name;

    return NGX_OK;
}


/* Whether the raw request path (up to '/', '?' or its end) begins with exactly key. */
static ngx_uint_t
berth_same_segment(ngx_str_t *raw, ngx_str_t *key)
{
    u_char  *p, *end;

    if (raw->len == 0 || raw->data[0] != '/') {
        return 0;
    }

    end = raw->data + raw->len;

    for (p = raw->data + 1; p < end && *p != '/' && *p != '?'; p++) {
        /* void */
    }

    return (size_t) (p - raw->data) == key->len
           && ngx_strncmp(raw->data, key->data, key->len) == 0;
}


static void
berth_free_peer(ngx_peer_connection_t *pc, void *data, ngx_uint_t state)
{
    if (pc->tries) {
        pc->tries--;
    }
}


static void
berth_refresh(berth_routes_conf_t *conf)
{
    u_char     name[BERTH_NAME_MAX + 1];
    ssize_t    n;
    ngx_err_t  err;

    /* readlink() on every request would cost more than the rest of the module together. */
    if (conf->checked && conf->checked_at == ngx_current_msec) {
        return;
    }

    conf->checked = 1;
    conf->checked_at = ngx_current_msec;

    n = readlink((char *) conf->link.data, (char *) name, sizeof(name));

    if (n == -1) {
        err = ngx_errno;
        /* No link yet: berth has not written a table, and every path answers 404. */
        if (err != NGX_ENOENT && err != conf->link_err) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, err,
                          "berth: readlink(\"%s\") failed", conf->link.data);
        }
        conf->link_err = err;
        return;
    }

    conf->link_err = 0;

    if (n == 0 || (size_t) n > BERTH_NAME_MAX) {
        return;
    }

    if (((size_t) n == conf->loaded.len
         && ngx_memcmp(name, conf->loaded.data, n) == 0)
        || ((size_t) n == conf->refused.len
            && ngx_memcmp(name, conf->refused.data, n) == 0))
    {
        return;
    }

    berth_load(conf, name, n);
}


static void
berth_load(berth_routes_conf_t *conf, u_char *name, size_t len)
{
    u_char           *text, *p;
    size_t            size, got;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_err_t         err;
    ngx_pool_t       *pool;
    ngx_file_info_t   info;
    berth_table_t    *table;
    u_char            path[NGX_MAX_PATH];

    pool = NULL;

    if (name[0] == '/' || ngx_strlchr(name, name + len, '/') != NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "berth: \"%s\" must name a file beside it, not \"%*s\"",
                      conf->link.data, len, name);
        goto refuse;
    }

    p = ngx_cpymem(path, conf->dir.data, conf->dir.len);
    *p++ = '/';
    p = ngx_cpymem(p, name, len);
    *p = '\0';

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        /* berth replaced the table again since readlink(); the next tick reads the new one. */
        if (err != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, err,
                          "berth: cannot open route table \"%s\"", path);
        }
        return;
    }

    if (ngx_fd_info(fd, &info) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, ngx_errno,
                      "berth: fstat(\"%s\") failed", path);
        goto close_and_refuse;
    }

    size = (size_t) ngx_file_size(&info);

    if (size > BERTH_MAX_TABLE) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "berth: route table \"%s\" is larger than %d bytes",
                      path, BERTH_MAX_TABLE);
        goto close_and_refuse;
    }

    /* The table outlives the request that loads it, so its pool logs to the cycle's log. */
    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    if (pool == NULL) {
        goto close_and_refuse;
    }

    text = ngx_pnalloc(pool, size + 1);
    if (text == NULL) {
        goto close_and_refuse;
    }

    for (got = 0; got < size; got += n) {
        n = ngx_read_fd(fd, text + got, size - got);
        if (n <= 0) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, n == 0 ? 0 : ngx_errno,
                          "berth: cannot read route table \"%s\"", path);
            goto close_and_refuse;
        }
    }

    ngx_close_file(fd);

    table = berth_parse(pool, text, size, path);
    if (table == NULL) {
        goto refuse;
    }

    if (conf->table != NULL) {
        ngx_destroy_pool(conf->table->pool);
    }

    conf->table = table;
    ngx_memcpy(conf->loaded.data, name, len);
    conf->loaded.len = len;

    return;

close_and_refuse:

    ngx_close_file(fd);

refuse:

    if (pool != NULL) {
        ngx_destroy_pool(pool);
    }

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "berth: keeping the previous route table instead of \"%*s\"",
                  len, name);

    ngx_memcpy(conf->refused.data, name, len);
    conf->refused.len = len;
}


/*
 * Reads the format line, if any, and moves *text past it: 1 for a table without one, 2 for
 * "#berth-routes 2", NGX_ERROR for any other format (a newer berth's, which this module
 * must refuse rather than misread).
 */
static ngx_int_t
berth_parse_format(u_char **text, u_char *end, u_char *path)
{
    u_char  *eol;
    size_t   len;

    len = sizeof(BERTH_FORMAT_LINE) - 1;

    if ((size_t) (end - *text) < len
        || ngx_strncmp(*text, BERTH_FORMAT_LINE, len) != 0)
    {
        return 1;
    }

    eol = ngx_strlchr(*text, end, '\n');

    if (eol == NULL || eol - *text != (ssize_t) len + 1 || (*text)[len] != '2') {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "berth: route table \"%s\" is of a format this module does not"
                      " read: \"%*s\"", path,
                      ngx_min((size_t) ((eol ? eol : end) - *text), 40), *text);
        return NGX_ERROR;
    }

    *text = eol + 1;

    return 2;
}


static berth_table_t *
berth_parse(ngx_pool_t *pool, u_char *text, size_t size, u_char *path)
{
    u_char          *p, *end, *line, *eol, *token, *slash;
    ngx_int_t        format;
    ngx_uint_t       lines, count, slots, i, number;
    berth_route_t   *route, *routes;
    berth_table_t   *table;

    end = text + size;

    format = berth_parse_format(&text, end, path);
    if (format == NGX_ERROR) {
        return NULL;
    }

    lines = 0;
    for (p = text; p < end; p++) {
        if (*p == '\n') {
            lines++;
        }
    }
    if (size > 0 && end[-1] != '\n') {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "berth: route table \"%s\" does not end with a newline", path);
        return NULL;
    }

    slots = 8;
    while (slots < lines * 2) {
        slots *= 2;
    }

    table = ngx_palloc(pool, sizeof(berth_table_t));
    routes = ngx_pcalloc(pool, (lines ? lines : 1) * sizeof(berth_route_t));
    if (table == NULL || routes == NULL) {
        return NULL;
    }

    table->pool = pool;
    table->mask = slots - 1;
    table->slots = ngx_pcalloc(pool, slots * sizeof(berth_route_t *));
    if (table->slots == NULL) {
        return NULL;
    }

    number = 0;

    for (line = text; line < end; line = eol + 1) {
        eol = ngx_strlchr(line, end, '\n');
        route = &routes[number++];

        /* The prefix, then the targets, separated by single spaces. */
        token = line;
        p = ngx_strlchr(token, eol, ' ');
        if (p == NULL) {
            p = eol;
        }

        /* Format 2 keys a colour "/<segment>/<colour>"; a segment is never empty. */
        slash = (p - token < 2) ? NULL : ngx_strlchr(token + 1, p, '/');

        if (p - token < 2 || token[0] != '/'
            || (slash != NULL
                && (format < 2 || slash == token + 1 || slash + 1 == p
                    || ngx_strlchr(slash + 1, p, '/') != NULL)))
        {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "berth: route table \"%s\" line %ui: the prefix must be"
                          " '/' and one path segment%s", path, number + format - 1,
                          format < 2 ? "" : ", and then '/' and a colour");
            return NULL;
        }

        route->prefix.data = token;
        route->prefix.len = p - token;

        if (eol - p >= 6 && ngx_strncmp(p + 1, "strip", 5) == 0
            && (p + 6 == eol || p[6] == ' '))
        {
            route->strip = 1;
            p += 6;
        }

        count = 0;
        for (token = p; token < eol; token++) {
            if (*token == ' ') {
                count++;
            }
        }

        if (count > 0) {
            route->targets = ngx_pcalloc(pool, count * sizeof(ngx_addr_t));
            if (route->targets == NULL) {
                return NULL;
            }
        }

        for (i = 0; i < count; i++) {
            token = p + 1;
            p = ngx_strlchr(token, eol, ' ');
            if (p == NULL) {
                p = eol;
            }

            if (p == token
                || ngx_parse_addr_port(pool, &route->targets[i], token, p - token)
                   != NGX_OK
                || ngx_inet_get_port(route->targets[i].sockaddr) == 0)
            {
                ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                              "berth: route table \"%s\" line %ui: \"%*s\" is not"
                              " an address and port", path, number + format - 1, p - token, token);
                return NULL;
            }

            route->targets[i].name.data = token;
            route->targets[i].name.len = p - token;
        }

        route->count = count;
        /* Workers start at different targets, so their first requests do not all go to one. */
        route->last = count ? (ngx_uint_t) ngx_random() % count : 0;

        if (berth_lookup(table, &route->prefix) != NULL) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "berth: route table \"%s\" line %ui: prefix \"%V\" appears twice",
                          path, number + format - 1, &route->prefix);
            return NULL;
        }

        i = ngx_hash_key(route->prefix.data, route->prefix.len) & table->mask;
        while (table->slots[i] != NULL) {
            i = (i + 1) & table->mask;
        }
        table->slots[i] = route;
    }

    return table;
}


static berth_route_t *
berth_lookup(berth_table_t *table, ngx_str_t *key)
{
    ngx_uint_t      i;
    berth_route_t  *route;

    if (table == NULL) {
        return NULL;
    }

    i = ngx_hash_key(key->data, key->len) & table->mask;

    while ((route = table->slots[i]) != NULL) {
        if (route->prefix.len == key->len
            && ngx_memcmp(route->prefix.data, key->data, key->len) == 0)
        {
            return route;
        }

        i = (i + 1) & table->mask;
    }

    return NULL;
}


/*
 * The route of a request as the table has it now, for the metrics module: its prefix, or
 * NGX_DECLINED for a path that is no route (so unknown paths never become series). A request
 * that names a colour counts for its route: the series are the service's, whichever colour
 * served, and a colour named on a route without colours changes nothing.
 */
ngx_int_t
ngx_http_berth_route_of(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_str_t           route_key;
    berth_route_t      *route;
    berth_peer_data_t  *bp;

    bp = ngx_http_get_module_ctx(r, ngx_http_berth_routes_module);
    if (bp == NULL || bp->bad) {
        return NGX_DECLINED;
    }

    route_key.data = bp->key.data;
    route_key.len = bp->route_len;

    route = berth_lookup(bp->conf->table, &route_key);
    if (route == NULL) {
        return NGX_DECLINED;
    }

    *key = route->prefix;

    return NGX_OK;
}
