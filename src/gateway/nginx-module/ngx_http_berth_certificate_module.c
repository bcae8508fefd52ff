/*
 * berth's certificates in nginx: which certificate file a TLS handshake loads, chosen by
 * the name the client asked for (SNI), so that berth renews a certificate by replacing a
 * file, without a reload (ADR 010).
 *
 *   http {
 *       berth_certificates /run/berth/gateway-…/certs;
 *       server {
 *           listen 8443 ssl;
 *           ssl_certificate     $berth_certificate;
 *           ssl_certificate_key $berth_certificate;
 *       }
 *   }
 *
 * The directory holds, per host, a symbolic link named after the host to a file that holds
 * the private key and the certificate chain together ("apps.example.org" ->
 * "apps.example.org.3.pem"), and a link "_default" for a name without a link of its own (no
 * SNI, an address, an unknown host). berth writes each file once under a new name and then
 * renames a new link over the old one.
 *
 * nginx evaluates ssl_certificate and ssl_certificate_key one after the other, and opens
 * each file by its path. Were the link their path, a link replaced between the two opens
 * would pair the new certificate with the old key, and the handshake would fail. So the
 * link is read once per handshake, here: the variable is cacheable, nginx computes it once
 * for the request it makes for the handshake, and both directives get the same file, which
 * never changes once written.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define BERTH_LINK_MAX    255
/* A DNS name, without trailing dot. */
#define BERTH_HOST_MAX    253


typedef struct {
    ngx_str_t    dir;
    ngx_int_t    server_name_index;
} berth_certificate_conf_t;


static void *berth_certificate_create_conf(ngx_conf_t *cf);
static char *berth_certificates(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t berth_certificate_add_variable(ngx_conf_t *cf);
static ngx_int_t berth_certificate_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t berth_certificate_link_name(ngx_http_variable_value_t *sni,
    u_char *name);
static ssize_t berth_certificate_readlink(berth_certificate_conf_t *conf,
    u_char *name, size_t len, u_char *target);


static ngx_command_t  berth_certificate_commands[] = {

    { ngx_string("berth_certificates"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      berth_certificates,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  berth_certificate_module_ctx = {
    berth_certificate_add_variable,        /* preconfiguration */
    NULL,                                  /* postconfiguration */
    berth_certificate_create_conf,         /* create main configuration */
    NULL,                                  /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_berth_certificate_module = {
    NGX_MODULE_V1,
    &berth_certificate_module_ctx,         /* module context */
    berth_certificate_commands,            /* module directives */
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


static ngx_str_t  berth_certificate_name = ngx_string("berth_certificate");
static ngx_str_t  berth_server_name = ngx_string("ssl_server_name");
static u_char     berth_default_link[] = "_default";


static void *
berth_certificate_create_conf(ngx_conf_t *cf)
{
    berth_certificate_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(berth_certificate_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->server_name_index = NGX_ERROR;

    return conf;
}


static char *
berth_certificates(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    berth_certificate_conf_t  *bcf = conf;

    ngx_str_t  *value;

    if (bcf->dir.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].data[0] != '/'
        || value[1].len + 1 + BERTH_LINK_MAX + 1 > NGX_MAX_PATH)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "berth_certificates needs an absolute path, not \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    bcf->dir = value[1];

    bcf->server_name_index = ngx_http_get_variable_index(cf, &berth_server_name);
    if (bcf->server_name_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
berth_certificate_add_variable(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    /* Cacheable on purpose: one value per handshake, for the certificate and the key. */
    var = ngx_http_add_variable(cf, &berth_certificate_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = berth_certificate_variable;

    return NGX_OK;
}


/* The path of the file the link for the client's server name points at, else _default's. */
static ngx_int_t
berth_certificate_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                    *p;
    ssize_t                    n;
    ngx_int_t                  len;
    berth_certificate_conf_t  *conf;
    ngx_http_variable_value_t *sni;
    u_char                     name[BERTH_HOST_MAX + 1];
    u_char                     target[BERTH_LINK_MAX + 1];

    v->not_found = 1;

    conf = ngx_http_get_module_main_conf(r, ngx_http_berth_certificate_module);
    if (conf == NULL || conf->dir.data == NULL) {
        return NGX_OK;
    }

    n = -1;

    sni = ngx_http_get_indexed_variable(r, conf->server_name_index);
    len = berth_certificate_link_name(sni, name);

    if (len > 0) {
        n = berth_certificate_readlink(conf, name, len, target);
    }

    if (n == -1) {
        n = berth_certificate_readlink(conf, berth_default_link,
                                       sizeof(berth_default_link) - 1, target);
    }

    /* No certificate at all (berth has not obtained one yet): the handshake fails. */
    if (n == -1) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, conf->dir.len + 1 + n + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    p = ngx_cpymem(p, conf->dir.data, conf->dir.len);
    *p++ = '/';
    p = ngx_cpymem(p, target, n);
    *p = '\0';

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The server name as a link name: lowercase letters, digits, '-' and inner dots only, so it
 * can never leave the directory; 0 for a name that is none (or no name at all).
 */
static ngx_int_t
berth_certificate_link_name(ngx_http_variable_value_t *sni, u_char *name)
{
    u_char      c;
    ngx_uint_t  i;

    if (sni == NULL || sni->not_found || sni->len == 0
        || sni->len > BERTH_HOST_MAX)
    {
        return 0;
    }

    for (i = 0; i < sni->len; i++) {
        c = ngx_tolower(sni->data[i]);

        if (c == '.') {
            if (i == 0 || name[i - 1] == '.' || i + 1 == (ngx_uint_t) sni->len) {
                return 0;
            }

        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '-'))
        {
            return 0;
        }

        name[i] = c;
    }

    name[i] = '\0';

    return i;
}


/* The link's target, a file name beside it; -1 when there is no such link or it is not one. */
static ssize_t
berth_certificate_readlink(berth_certificate_conf_t *conf, u_char *name,
    size_t len, u_char *target)
{
    u_char   *p;
    ssize_t   n;
    u_char    path[NGX_MAX_PATH];

    p = ngx_cpymem(path, conf->dir.data, conf->dir.len);
    *p++ = '/';
    p = ngx_cpymem(p, name, len);
    *p = '\0';

    n = readlink((char *) path, (char *) target, BERTH_LINK_MAX);

    if (n <= 0 || target[0] == '.' || ngx_strlchr(target, target + n, '/') != NULL) {
        return -1;
    }

    target[n] = '\0';

    return n;
}
