/* Writes checkpoint seeds for fuzz_model (OPTM, RNGS, PROG and PROV sections, whose layout
 * only the library defines): make-checkpoints DIR. Built with -Dfuzz=true; make-corpus.py
 * writes the other seeds. The output is deterministic. */
#include "gemmnet.h"

#include <stdio.h>

static int write_one(const char *dir, const char *name, gn_opt kind, int with_best)
{
    const size_t sizes[] = {3, 4, 2};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes;
    cfg.n_sizes = 3;
    cfg.output_act = GN_ACT_SOFTMAX;
    cfg.loss = GN_LOSS_CCE;
    gn_net *net = NULL;
    gn_optimizer *opt = NULL;
    gn_optimizer_config oc;
    gn_optimizer_config_defaults(&oc, kind);
    char err[256], path[512];
    if (gn_net_create(&net, &cfg) != GN_OK ||
        gn_optimizer_create(&opt, net, &oc, err, sizeof err) != GN_OK)
        return 1;
    const float X[6] = {0.1f, -0.2f, 0.3f, 1.0f, 0.5f, -1.0f}, Y[4] = {1, 0, 0, 1};
    for (int i = 0; i < 3; i++)
        if (gn_optimizer_step(opt, net, X, 3, Y, 2, 2, NULL) != GN_OK)
            return 1;
    gn_fit_progress prog = {.epochs_done = 3, .best_epoch = with_best ? 2 : 0,
                            .best_val_loss = with_best ? 0.25 : 0.0 / 0.0,
                            .best_params = with_best ? gn_net_params(net) : NULL};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gn_status st = gn_checkpoint_save(net, opt, &prog, "data=seed\n", path, err, sizeof err);
    if (st != GN_OK)
        fprintf(stderr, "%s\n", err);
    gn_optimizer_free(opt);
    gn_net_free(net);
    return st != GN_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make-checkpoints DIR\n");
        return 2;
    }
    return write_one(argv[1], "checkpoint-adam", GN_OPT_ADAM, 1) |
           write_one(argv[1], "checkpoint-momentum", GN_OPT_MOMENTUM, 0) |
           write_one(argv[1], "checkpoint-sgd", GN_OPT_SGD, 0);
}
