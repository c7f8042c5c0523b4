/* A program of a project that uses gemmnet as a meson subproject (see meson.build here).
 * It checks the header it was compiled with against the library it runs with, that its own
 * options were not mixed up with gemmnet's, and that a small network computes what the
 * header's conventions say it should. Exit status 0 when every check passed. */
#include <gemmnet.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#if !defined(CONSUMER_TESTS) || !defined(CONSUMER_NATIVE)
#error "meson.build passes CONSUMER_TESTS and CONSUMER_NATIVE"
#endif

static int failed(const char *what)
{
    fprintf(stderr, "subproject consumer: FAIL %s\n", what);
    return 1;
}

int main(void)
{
    if (strcmp(gn_version(), GN_VERSION_STRING) != 0)
        return failed("gn_version() differs from GN_VERSION_STRING");
    /* subproject.sh configures -Dtests=true -Dnative=false -Dgemmnet:tests=false: if the
     * options were shared, one of these would have the other project's value. */
    if (CONSUMER_TESTS != 1 || CONSUMER_NATIVE != 0)
        return failed("the consumer's own options do not have the values it was given");

    /* One layer, 2 inputs → 1 identity output: y = w1·x1 + w2·x2 + b, weights set by hand. */
    const size_t sizes[] = {2, 1};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes;
    cfg.n_sizes = 2;
    cfg.output_act = GN_ACT_IDENTITY;
    cfg.max_batch = 3;
    gn_net *net = NULL;
    gn_status st = gn_net_create(&net, &cfg);
    if (st != GN_OK)
        return failed(gn_strerror(st));
    float *p = gn_net_params(net); /* [W (1 × 2) | b (1)] */
    p[0] = 0.5f;
    p[1] = -2.0f;
    p[2] = 0.25f;
    const float x[3][2] = {{1, 0}, {0, 1}, {4, 1}};
    const double want[3] = {0.75, -1.75, 0.25};
    float y[3];
    st = gn_net_predict(net, &x[0][0], 2, 3, y, 1);
    int bad = st != GN_OK;
    for (int j = 0; j < 3 && !bad; j++)
        bad = fabs(y[j] - want[j]) > 1e-6;
    gn_net_free(net);
    if (bad)
        return failed("predictions of a hand-set linear layer are wrong");
    printf("subproject consumer: gemmnet %s: ok\n", gn_version());
    return 0;
}
