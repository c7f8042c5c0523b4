/* Convergence: Nielsen-style SGD learns XOR and Iris. Thresholds come from the issue
 * (XOR loss < 0.01, Iris test accuracy ≥ 0.93); the data are fixed files or constants. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

Test(train, xor_2_4_1_sigmoid)
{
    gn_set_threads(1);
    const size_t sizes[] = {2, 4, 1};
    const float X[8] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[4] = {0, 1, 1, 0};
    gn_net *net = make_net(sizes, 3, NULL, GN_LOSS_QUADRATIC, 4, 3); /* sigmoid everywhere */
    double before, loss, acc;
    cr_assert_eq(gn_net_evaluate(net, X, 2, Y, 1, 4, &before, NULL), GN_OK);
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = 5000;
    opt.batch = 4;
    opt.eta = 2.0f;
    cr_assert_eq(gn_net_train(net, X, 2, Y, 1, 4, &opt), GN_OK);
    cr_assert_eq(gn_net_evaluate(net, X, 2, Y, 1, 4, &loss, &acc), GN_OK);
    cr_log_info("xor: loss %.3g -> %.3g, accuracy %.2f", before, loss, acc);
    cr_assert_lt(loss, 0.01, "XOR loss %.4g after training", loss);
    cr_assert_eq(acc, 1.0);
    gn_net_free(net);
}

static void iris(gn_impl impl, gn_act hidden)
{
    gn_set_threads(1);
    char path[4096], err[256];
    const char *dir = getenv("GEMMNET_DATA_DIR");
    snprintf(path, sizeof path, "%s/iris.csv", dir ? dir : "data");
    gn_dataset *all, *train, *test;
    cr_assert_eq(gn_dataset_load_csv(&all, path, NULL, err, sizeof err), GN_OK, "%s", err);
    cr_assert_eq(gn_dataset_n_samples(all), 150);
    cr_assert_eq(gn_dataset_split(all, 0.8, 42, &train, &test), GN_OK);
    const size_t sizes[] = {4, 16, 3};
    const gn_act acts[] = {hidden, GN_ACT_SOFTMAX};
    gn_net_config cfg = net_config(sizes, 3, acts, GN_LOSS_CCE, 10, 1);
    cfg.impl = impl;
    gn_net *net;
    cr_assert_eq(gn_net_create(&net, &cfg), GN_OK);
    gn_train_options opt;
    gn_train_options_defaults(&opt);
    opt.epochs = 200;
    opt.batch = 10;
    opt.eta = 0.1f;
    size_t n = gn_dataset_n_samples(train);
    cr_assert_eq(gn_net_train(net, gn_dataset_x(train), 4, gn_dataset_y(train), 3, n, &opt), GN_OK,
                 "%s", gn_net_last_error(net));
    double acc;
    cr_assert_eq(gn_net_evaluate(net, gn_dataset_x(test), 4, gn_dataset_y(test), 3,
                                 gn_dataset_n_samples(test), NULL, &acc),
                 GN_OK);
    cr_log_info("iris impl %d hidden %d: test accuracy %.4f", impl, hidden, acc);
    cr_assert_geq(acc, 0.93, "Iris test accuracy %.4f", acc);
    gn_net_free(net);
    gn_dataset_free(all);
    gn_dataset_free(train);
    gn_dataset_free(test);
}

Test(train, iris_sigmoid_blas) { iris(GN_IMPL_BLAS, GN_ACT_SIGMOID); }
Test(train, iris_tanh_blas) { iris(GN_IMPL_BLAS, GN_ACT_TANH); }
Test(train, iris_relu_blas) { iris(GN_IMPL_BLAS, GN_ACT_RELU); }
Test(train, iris_sigmoid_reference_loop) { iris(GN_IMPL_LOOP, GN_ACT_SIGMOID); }
