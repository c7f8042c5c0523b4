/* A program outside the gemmnet tree, built against an INSTALLED gemmnet through pkg-config
 * (tests/consumer/install.sh links it once against the shared and once against the static
 * library). It exercises the installed header and library the way a user would: version,
 * create, train on XOR, predict, save and load. Every check prints what failed; the exit
 * status is 0 when all passed, 1 otherwise.
 *
 * Usage: consumer [DIR]   (DIR: where the model file goes; default: a new directory in /tmp)
 */
#define _POSIX_C_SOURCE 200809L
#include <gemmnet.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer: FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

enum { N_IN = 2, N_HID = 8, N_OUT = 1, N_SAMPLES = 4 };

/* XOR, one sample per column: x[sample][feature] is features × samples with ld = N_IN. */
static const float xs[N_SAMPLES][N_IN] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
static const float ys[N_SAMPLES][N_OUT] = {{0}, {1}, {1}, {0}};

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* The forward pass of a 2-8-1 sigmoid network recomputed in double from the parameter buffer,
 * reading it with the layout the header documents (CONVENTIONS, "Parameters"):
 * [W1 (N_HID × N_IN, ld N_HID) | b1 | W2 (N_OUT × N_HID, ld N_OUT) | b2]. */
static void forward_double(const float *p, const float *x, double *out)
{
    const float *w1 = p, *b1 = w1 + N_HID * N_IN, *w2 = b1 + N_HID, *b2 = w2 + N_OUT * N_HID;
    double h[N_HID];
    for (int i = 0; i < N_HID; i++) {
        double z = b1[i];
        for (int k = 0; k < N_IN; k++)
            z += (double)w1[i + k * N_HID] * x[k];
        h[i] = sigmoid(z);
    }
    for (int i = 0; i < N_OUT; i++) {
        double z = b2[i];
        for (int k = 0; k < N_HID; k++)
            z += (double)w2[i + k * N_OUT] * h[k];
        out[i] = sigmoid(z);
    }
}

static void check_version(void)
{
    const char *v = gn_version();
    CHECK(v != NULL, "gn_version() returned NULL");
    if (v == NULL)
        return;
    CHECK(strcmp(v, GN_VERSION_STRING) == 0, "library %s, header %s", v, GN_VERSION_STRING);
    int major = -1, minor = -1, patch = -1;
    CHECK(sscanf(v, "%d.%d.%d", &major, &minor, &patch) == 3, "unparsable version '%s'", v);
    CHECK(major == GN_VERSION_MAJOR && minor == GN_VERSION_MINOR && patch == GN_VERSION_PATCH,
          "version macros %d.%d.%d, string %s", GN_VERSION_MAJOR, GN_VERSION_MINOR,
          GN_VERSION_PATCH, v);
    CHECK(GN_VERSION_NUMBER == major * 10000 + minor * 100 + patch, "GN_VERSION_NUMBER %d",
          GN_VERSION_NUMBER);
}

static void check_errors(const char *dir)
{
    const char *ok = gn_strerror(GN_OK), *bad = gn_strerror(GN_ERR_ARG);
    const char *unknown = gn_strerror((gn_status)-12345);
    CHECK(ok != NULL && bad != NULL && unknown != NULL, "gn_strerror returned NULL");
    if (ok != NULL && bad != NULL)
        CHECK(strcmp(ok, bad) != 0, "GN_OK and GN_ERR_ARG share the message '%s'", ok);

    gn_net *net = (gn_net *)&failures; /* must be overwritten with NULL */
    CHECK(gn_net_create(&net, NULL) == GN_ERR_NULL, "gn_net_create(cfg = NULL)");
    CHECK(net == NULL, "gn_net_create left *out non-NULL on failure");

    char path[4096], err[256] = "";
    snprintf(path, sizeof path, "%s/does-not-exist.gnn", dir);
    net = (gn_net *)&failures;
    CHECK(gn_net_load(&net, path, err, sizeof err) == GN_ERR_IO, "loading a missing file");
    CHECK(net == NULL, "gn_net_load left *out non-NULL on failure");
    CHECK(err[0] != '\0', "gn_net_load gave no message for a missing file");
    gn_net_free(NULL);
}

/* Trains XOR with full-batch gradient steps; returns the trained network or NULL. */
static gn_net *train_xor(void)
{
    const size_t sizes[] = {N_IN, N_HID, N_OUT};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes;
    cfg.n_sizes = 3;
    cfg.hidden_act = GN_ACT_SIGMOID;
    cfg.output_act = GN_ACT_SIGMOID;
    cfg.loss = GN_LOSS_BCE;
    cfg.max_batch = N_SAMPLES;
    cfg.seed = 7;
    gn_net *net = NULL;
    gn_status st = gn_net_create(&net, &cfg);
    CHECK(st == GN_OK, "gn_net_create: %s", gn_strerror(st));
    if (st != GN_OK)
        return NULL;
    CHECK(gn_net_n_params(net) == N_HID * N_IN + N_HID + N_OUT * N_HID + N_OUT,
          "gn_net_n_params = %zu", gn_net_n_params(net));
    size_t wo = 0, bo = 0;
    st = gn_net_layer_offsets(net, 2, &wo, &bo);
    CHECK(st == GN_OK && wo == N_HID * N_IN + N_HID && bo == wo + N_OUT * N_HID,
          "gn_net_layer_offsets(2): %s, %zu, %zu", gn_strerror(st), wo, bo);

    double first = NAN, last = NAN;
    for (int step = 0; step < 3000; step++) {
        double loss = NAN;
        st = gn_net_train_step(net, &xs[0][0], N_IN, &ys[0][0], N_OUT, N_SAMPLES, 2.0f, &loss);
        if (st != GN_OK) {
            CHECK(st == GN_OK, "gn_net_train_step %d: %s", step, gn_net_last_error(net));
            gn_net_free(net);
            return NULL;
        }
        if (step == 0)
            first = loss;
        last = loss;
    }
    CHECK(isfinite(first) && isfinite(last) && last < 0.1 * first,
          "training barely reduced the loss: %g -> %g", first, last);
    return net;
}

/* Predictions for XOR: each output on the right side of 0.5, and equal to a forward pass
 * recomputed in double from the parameters. */
static void check_predict(gn_net *net, float out[N_SAMPLES])
{
    gn_status st = gn_net_predict(net, &xs[0][0], N_IN, N_SAMPLES, out, N_OUT);
    CHECK(st == GN_OK, "gn_net_predict: %s", gn_net_last_error(net));
    if (st != GN_OK)
        return;
    for (int j = 0; j < N_SAMPLES; j++) {
        CHECK((out[j] > 0.5f) == (ys[j][0] > 0.5f), "%g xor %g predicted %g", xs[j][0], xs[j][1],
              out[j]);
        double ref;
        forward_double(gn_net_params(net), xs[j], &ref);
        CHECK(fabs(out[j] - ref) <= 1e-5, "sample %d: predicted %.9g, double forward %.9g", j,
              out[j], ref);
    }
}

static void check_save_load(gn_net *net, const float before[N_SAMPLES], const char *dir)
{
    char path[4096], err[256] = "";
    snprintf(path, sizeof path, "%s/xor.gnn", dir);
    gn_status st = gn_net_save(net, path, err, sizeof err);
    CHECK(st == GN_OK, "gn_net_save(%s): %s: %s", path, gn_strerror(st), err);
    if (st != GN_OK)
        return;
    gn_net *back = NULL;
    st = gn_net_load(&back, path, err, sizeof err);
    CHECK(st == GN_OK, "gn_net_load(%s): %s: %s", path, gn_strerror(st), err);
    if (st == GN_OK) {
        CHECK(gn_net_n_params(back) == gn_net_n_params(net), "loaded %zu parameters, saved %zu",
              gn_net_n_params(back), gn_net_n_params(net));
        CHECK(gn_net_n_layers(back) == 2 && gn_net_loss(back) == GN_LOSS_BCE,
              "loaded architecture differs: %zu layers, loss %d", gn_net_n_layers(back),
              (int)gn_net_loss(back));
        if (gn_net_n_params(back) == gn_net_n_params(net))
            CHECK(memcmp(gn_net_params(back), gn_net_params(net),
                         gn_net_n_params(net) * sizeof(float)) == 0,
                  "loaded parameters differ from the saved ones");
        float after[N_SAMPLES];
        st = gn_net_predict(back, &xs[0][0], N_IN, N_SAMPLES, after, N_OUT);
        CHECK(st == GN_OK, "gn_net_predict on the loaded net: %s", gn_net_last_error(back));
        if (st == GN_OK)
            CHECK(memcmp(before, after, sizeof after) == 0,
                  "the loaded network predicts differently");
    }
    gn_net_free(back);
    CHECK(remove(path) == 0, "cannot remove %s", path);
}

int main(int argc, char **argv)
{
    char own[] = "/tmp/gemmnet-consumer-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(own);
    if (dir == NULL) {
        perror("consumer: mkdtemp");
        return 1;
    }
    check_version();
    check_errors(dir);
    gn_net *net = train_xor();
    if (net != NULL) {
        float out[N_SAMPLES];
        check_predict(net, out);
        check_save_load(net, out, dir);
        gn_net_free(net);
    }
    if (argc <= 1)
        rmdir(own);
    if (failures == 0)
        printf("consumer: gemmnet %s: all checks passed\n", gn_version());
    return failures == 0 ? 0 : 1;
}
