/* Classification from a CSV file: load, split, train with validation and early stopping,
 * report accuracy, a confusion matrix and per-class precision and recall, and optionally
 * save the model for later inference (see infer.c).
 *
 * Usage: classify_csv [DATA.csv [MODEL.gnn]]
 *   DATA.csv   numeric feature columns and a class label in the last column, with or without
 *              a header line; default: the Iris data set shipped in gemmnet's data/ directory
 *   MODEL.gnn  if given, the trained model is written there
 *
 * Exit status 0 when the test accuracy is at least MIN_ACCURACY, 1 otherwise or on any error.
 *
 * Build against an installed gemmnet:
 *     cc classify_csv.c $(pkg-config --cflags --libs gemmnet)
 * and pass the CSV path: built that way the default is data/iris.csv relative to the current
 * directory (the meson build sets the source tree's with -DIRIS_CSV="..."); an installed
 * gemmnet has a copy in <prefix>/share/gemmnet/iris.csv.
 */
#include <gemmnet.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef IRIS_CSV
#define IRIS_CSV "data/iris.csv"
#endif

/* Iris has 150 samples: 30 are held out for the test, so one error costs 0.033. With the
 * split below the network reaches 0.93–0.97 whatever its seed (other splits give 0.83–1.0,
 * as do k-nearest-neighbours and nearest-centroid classifiers: 30 samples are a coarse test).
 * The bound leaves room for a few of Iris's borderline versicolor/virginica flowers and still
 * fails a network that learnt nothing (chance is 1/3). */
#define MIN_ACCURACY 0.8

/* Progress every 25 epochs, and on the last one. A callback returns non-zero to stop training;
 * this one only reports. */
static int report(gn_net *net, const gn_epoch_info *e, void *user)
{
    (void)net;
    (void)user;
    if (e->epoch % 25 == 0 || e->epoch == e->epochs)
        printf("epoch %4zu  train loss %.4f  val loss %.4f  val accuracy %.3f\n", e->epoch,
               e->train_loss, e->val_loss, e->val_accuracy);
    return 0;
}

int main(int argc, char **argv)
{
    const char *csv = argc > 1 ? argv[1] : IRIS_CSV;
    const char *model_path = argc > 2 ? argv[2] : NULL;
    char err[512];
    int rc = 1;
    gn_dataset *all = NULL, *rest = NULL, *train = NULL, *val = NULL, *test = NULL;
    gn_net *net = NULL;
    uint64_t *counts = NULL;
    double *precision = NULL, *recall = NULL;

    /* Defaults: header detected, label in the last column, comma-separated, class labels
     * (integers, or names numbered in order of first appearance). The loader's message names
     * the line and column of the first bad field. */
    gn_csv_options csv_opt;
    gn_csv_options_defaults(&csv_opt);
    gn_status st = gn_dataset_load_csv(&all, csv, &csv_opt, err, sizeof err);
    if (st != GN_OK) {
        fprintf(stderr, "classify_csv: %s: %s\n", gn_strerror(st), err);
        return 1;
    }
    const size_t n_in = gn_dataset_n_features(all), k = gn_dataset_n_outputs(all);
    printf("%s: %zu samples, %zu features, %zu classes\n", csv, gn_dataset_n_samples(all), n_in, k);
    if (k < 2) {
        fprintf(stderr, "classify_csv: need at least 2 classes\n");
        goto out;
    }

    /* 80 % for learning, 20 % for the final test, which training never sees; then 20 % of the
     * learning part for validation, which picks the epoch to keep. Both splits shuffle first:
     * the file is sorted by class, and an unshuffled cut would hold out one class entirely. */
    if ((st = gn_dataset_split(all, 0.8, 21, &rest, &test)) != GN_OK ||
        (st = gn_dataset_split(rest, 0.8, 12, &train, &val)) != GN_OK) {
        fprintf(stderr, "classify_csv: gn_dataset_split: %s (too few samples?)\n", gn_strerror(st));
        goto out;
    }
    printf("train %zu, validation %zu, test %zu\n", gn_dataset_n_samples(train),
           gn_dataset_n_samples(val), gn_dataset_n_samples(test));

    /* n_in → 16 → k: ReLU hidden units (He initialisation is chosen automatically for them),
     * softmax output with categorical cross-entropy, the pairing for one-hot class targets. */
    const size_t sizes[] = {n_in, 16, k};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.n_sizes = 3;
    cfg.sizes = sizes;
    cfg.hidden_act = GN_ACT_RELU;
    cfg.output_act = GN_ACT_SOFTMAX;
    cfg.loss = GN_LOSS_CCE;
    cfg.seed = 5;
    if ((st = gn_net_create(&net, &cfg)) != GN_OK) {
        gn_net_config_check(&cfg, err, sizeof err);
        fprintf(stderr, "classify_csv: gn_net_create: %s: %s\n", gn_strerror(st), err);
        goto out;
    }

    /* Adam with small batches (the set is tiny). GN_STANDARDIZE_INPUTS takes each feature's
     * mean and std from the training set only, so nothing about the validation or test
     * samples leaks into the model, and stores them in it: callers, and infer.c after
     * loading the saved file, pass raw measurements. Early stopping ends training after 40
     * epochs without a better validation loss, and restore_best (on by default) keeps the
     * parameters of the best epoch rather than the last. */
    gn_fit_options fo;
    gn_fit_options_defaults(&fo);
    fo.epochs = 200;
    fo.batch = 8;
    fo.opt.lr = 0.01f;
    fo.standardize = GN_STANDARDIZE_INPUTS;
    fo.patience = 40;
    fo.on_epoch = report;
    gn_fit_result res;
    st = gn_net_fit(net, train, val, &fo, &res);
    if (st != GN_OK) {
        fprintf(stderr, "classify_csv: gn_net_fit: %s: %s\n", gn_strerror(st),
                gn_net_last_error(net));
        goto out;
    }
    printf("%s after epoch %zu; kept epoch %zu (validation loss %.4f)\n",
           res.stopped_early ? "stopped early" : "finished", res.epochs, res.best_epoch,
           res.best_val_loss);

    /* The held-out test: confusion matrix counts[true][predicted], then per-class figures.
     * Both take the dataset's matrices as they are (features × n, one sample per column). */
    counts = calloc(k * k, sizeof *counts);
    precision = calloc(k, sizeof *precision);
    recall = calloc(k, sizeof *recall);
    if (!counts || !precision || !recall) {
        fprintf(stderr, "classify_csv: out of memory\n");
        goto out;
    }
    st = gn_net_confusion(net, gn_dataset_x(test), gn_dataset_ldx(test), gn_dataset_y(test),
                          gn_dataset_ldy(test), gn_dataset_n_samples(test), k, counts);
    if (st != GN_OK) {
        fprintf(stderr, "classify_csv: gn_net_confusion: %s: %s\n", gn_strerror(st),
                gn_net_last_error(net));
        goto out;
    }
    double accuracy = gn_class_metrics(counts, k, precision, recall);

    printf("\nconfusion matrix (rows: true class, columns: predicted)\n       ");
    for (size_t p = 0; p < k; p++)
        printf(" %5zu", p);
    printf("    precision  recall\n");
    for (size_t t = 0; t < k; t++) {
        printf("  %5zu", t);
        for (size_t p = 0; p < k; p++)
            printf(" %5llu", (unsigned long long)counts[t * k + p]);
        /* NaN when a class is never predicted (precision) or absent from the test set */
        printf("    %9.3f  %6.3f\n", precision[t], recall[t]);
    }
    printf("test accuracy %.4f\n", accuracy);

    if (model_path) {
        /* Atomic: written to a temporary file and renamed, so a failure never leaves a
         * half-written model where an old one was. The file includes the input scaling. */
        st = gn_net_save(net, model_path, err, sizeof err);
        if (st != GN_OK) {
            fprintf(stderr, "classify_csv: gn_net_save: %s: %s\n", gn_strerror(st), err);
            goto out;
        }
        printf("model saved to %s\n", model_path);
    }

    if (!(accuracy >= MIN_ACCURACY)) { /* also false for NaN */
        fprintf(stderr, "classify_csv: test accuracy %.4f is below %.2f\n", accuracy, MIN_ACCURACY);
        goto out;
    }
    rc = 0;
out:
    free(counts);
    free(precision);
    free(recall);
    gn_net_free(net);
    gn_dataset_free(test);
    gn_dataset_free(val);
    gn_dataset_free(train);
    gn_dataset_free(rest);
    gn_dataset_free(all);
    return rc;
}
