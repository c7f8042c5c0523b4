/* The smallest embedding of gemmnet: learn XOR with a 2-4-1 sigmoid network.
 * Build against an installed gemmnet:  cc xor.c $(pkg-config --cflags --libs gemmnet) */
#include <gemmnet.h>
#include <stdio.h>

int main(void)
{
    /* Four samples, one per column: x[sample][feature] is already features × batch. */
    const float x[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    const float y[4][1] = {{0}, {1}, {1}, {0}};

    const size_t sizes[] = {2, 4, 1};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg); /* sigmoid layers, quadratic loss, seed 1 */
    cfg.sizes = sizes;
    cfg.n_sizes = 3;
    cfg.max_batch = 4;
    cfg.seed = 3;

    gn_net *net;
    gn_status st = gn_net_create(&net, &cfg);
    if (st != GN_OK) {
        fprintf(stderr, "gn_net_create: %s\n", gn_strerror(st));
        return 1;
    }
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = 5000;
    opt.batch = 4;
    opt.eta = 2.0f;
    st = gn_net_train(net, &x[0][0], 2, &y[0][0], 1, 4, &opt);
    if (st != GN_OK) {
        fprintf(stderr, "gn_net_train: %s\n", gn_net_last_error(net));
        gn_net_free(net);
        return 1;
    }
    float out[4];
    gn_net_predict(net, &x[0][0], 2, 4, out, 1);
    int wrong = 0;
    for (int j = 0; j < 4; j++) {
        printf("%g xor %g -> %.3f\n", x[j][0], x[j][1], out[j]);
        wrong += (out[j] > 0.5f) != (y[j][0] > 0.5f);
    }
    gn_net_free(net);
    return wrong == 0 ? 0 : 1;
}
