/* Inference only: load a trained model file and classify data that lives in the host code's
 * own memory. No training code, no data files: what a simulation or an instrument that only
 * applies a network would contain.
 *
 * Usage: infer MODEL.gnn
 *   MODEL.gnn  a 4-input classifier of Iris flowers, e.g. written by
 *              `classify_csv data/iris.csv MODEL.gnn`
 *
 * The model is checked against a few reference flowers whose species is not in doubt before
 * its answers are used, as a host should check any model file it did not train itself: a
 * file can be valid yet hold the wrong network. Exit status 0 when every reference flower
 * gets its species, 1 otherwise or on any error.
 *
 * Build against an installed gemmnet:
 *     cc infer.c $(pkg-config --cflags --libs gemmnet)
 */
#include <gemmnet.h>
#include <stdio.h>
#include <stdlib.h>

enum { N_FEATURES = 4, N_FLOWERS = 6 };

/* The host's batch: sepal length, sepal width, petal length, petal width in cm, one flower per
 * row. A C array x[sample][feature] is already the features × n column-major matrix gemmnet
 * expects, with leading dimension N_FEATURES: it is passed as is. The values are raw
 * measurements: the model file carries the input standardisation it was trained with. */
static const float flowers[N_FLOWERS][N_FEATURES] = {
    /* small petals: setosa */
    {5.0f, 3.5f, 1.4f, 0.2f},
    {4.7f, 3.1f, 1.5f, 0.3f},
    /* medium petals: versicolor */
    {6.0f, 2.8f, 4.3f, 1.3f},
    {5.6f, 2.7f, 4.0f, 1.2f},
    /* long, wide petals: virginica */
    {7.0f, 3.1f, 6.0f, 2.3f},
    {6.4f, 3.0f, 5.7f, 2.2f},
};
/* Their species, in the class numbering of data/iris.csv. */
static const size_t species[N_FLOWERS] = {0, 0, 1, 1, 2, 2};
static const char *const species_name[] = {"setosa", "versicolor", "virginica"};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gnn\n", argv[0]);
        return 1;
    }

    /* Every size in the file is range-checked and the checksum verified before anything is
     * used; on failure err says what is wrong and at which byte. */
    char err[512];
    gn_net *net = NULL;
    gn_status st = gn_net_load(&net, argv[1], err, sizeof err);
    if (st != GN_OK) {
        fprintf(stderr, "infer: %s\n", err); /* names the file and gives the reason */
        return 1;
    }

    /* A loaded network could be any network: check it is one this host can use. */
    const size_t k = gn_net_n_outputs(net);
    const int softmax = gn_net_layer_act(net, gn_net_n_layers(net)) == GN_ACT_SOFTMAX;
    if (gn_net_n_inputs(net) != N_FEATURES || k != 3 || !softmax) {
        fprintf(stderr,
                "infer: %s is not an Iris classifier: %zu inputs, %zu outputs, %s output "
                "layer (want 4, 3, softmax)\n",
                argv[1], gn_net_n_inputs(net), k, softmax ? "softmax" : "non-softmax");
        gn_net_free(net);
        return 1;
    }

    /* One column of k class probabilities per flower, in the host's memory. gn_net_predict
     * takes any number of samples (it works through them max_batch at a time) and does not
     * allocate. */
    float prob[N_FLOWERS][3];
    st = gn_net_predict(net, &flowers[0][0], N_FEATURES, N_FLOWERS, &prob[0][0], k);
    if (st != GN_OK) {
        fprintf(stderr, "infer: gn_net_predict: %s: %s\n", gn_strerror(st), gn_net_last_error(net));
        gn_net_free(net);
        return 1;
    }

    int wrong = 0;
    printf("  sepal l/w   petal l/w   predicted     p(setosa) p(versicolor) p(virginica)\n");
    for (size_t j = 0; j < N_FLOWERS; j++) {
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            if (prob[j][c] > prob[j][best])
                best = c;
        printf("  %.1f  %.1f    %.1f  %.1f    %-12s  %9.4f %13.4f %12.4f%s\n", flowers[j][0],
               flowers[j][1], flowers[j][2], flowers[j][3], species_name[best], prob[j][0],
               prob[j][1], prob[j][2], best == species[j] ? "" : "   <- WRONG");
        wrong += best != species[j];
    }
    gn_net_free(net);

    if (wrong) {
        fprintf(stderr, "infer: %d of %d reference flowers misclassified: do not trust %s\n", wrong,
                N_FLOWERS, argv[1]);
        return 1;
    }
    return 0;
}
