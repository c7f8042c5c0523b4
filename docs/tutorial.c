/* The complete program of docs/tutorial.md: a host code that already has its samples in C
 * arrays trains a gemmnet network on them in place, predicts, saves and reloads the model,
 * handles an error and runs inference from two threads. The test suite builds and runs it
 * (suite 'examples'), and checks that every C block of the tutorial is an excerpt of it.
 *
 * Exit status 0 when the model fits the held-out runs (mean R² of the two outputs ≥ MIN_R2),
 * the deliberate mistake is reported as GN_ERR_DIM, and the two threads (one with the trained
 * network, one with the reloaded copy) reproduce the sequential predictions bit for bit;
 * 1 otherwise.
 *
 *     cc tutorial.c $(pkg-config --cflags --libs gemmnet) -lm -pthread
 */
#include <gemmnet.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The host code: a projectile with quadratic air drag, one run per sample. */
enum { N_RUNS = 2000, N_TRAIN = 1600, N_IN = 3, N_OUT = 2 };

static float x[N_RUNS][N_IN];  /* speed (m/s), angle (rad), drag (1/m): sample j = x[j] */
static float y[N_RUNS][N_OUT]; /* range (m), highest point (m) */

static void simulate(const float in[N_IN], float out[N_OUT])
{
    const double g = 9.81, dt = 1e-3;
    double px = 0, py = 0, vx = in[0] * cos(in[1]), vy = in[0] * sin(in[1]), top = 0;
    for (;;) {
        double v = sqrt(vx * vx + vy * vy);
        double nx = px + dt * vx, ny = py + dt * vy;
        vx -= dt * in[2] * v * vx;
        vy -= dt * (g + in[2] * v * vy);
        if (ny < 0) { /* landed: interpolate the crossing of y = 0 */
            out[0] = (float)(px + (nx - px) * py / (py - ny));
            out[1] = (float)top;
            return;
        }
        px = nx;
        py = ny;
        top = py > top ? py : top;
    }
}

/* The campaign: 2000 runs with random parameters (gemmnet's generator, so the runs are the
 * same on every machine; any generator would do). */
static void run_campaign(void)
{
    gn_rng rng;
    gn_rng_seed(&rng, 42);
    for (int j = 0; j < N_RUNS; j++) {
        x[j][0] = (float)(10 + 20 * gn_rng_uniform(&rng));
        x[j][1] = (float)(0.35 + 0.85 * gn_rng_uniform(&rng));
        x[j][2] = (float)(0.05 * gn_rng_uniform(&rng));
        simulate(x[j], y[j]);
    }
}

#define MIN_R2 0.99

/* Inference from several threads: one network per thread. */
struct job {
    gn_net *net;
    const float *x; /* n samples, ld N_IN */
    float *y;       /* n outputs, ld N_OUT */
    size_t n;
    gn_status status;
};

static void *predict_job(void *arg)
{
    struct job *jb = arg;
    jb->status = gn_net_predict(jb->net, jb->x, N_IN, jb->n, jb->y, N_OUT);
    return NULL;
}

static int fail(const char *what, gn_status st, const gn_net *net)
{
    fprintf(stderr, "%s: %s (%s)\n", what, gn_strerror(st), net ? gn_net_last_error(net) : "");
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "projectile.gnn";
    char err[256];
    gn_status st;
    run_campaign();

    /* 1. View the host's arrays as data sets: no copy. */
    gn_dataset *train, *val;
    st = gn_dataset_wrap(&train, &x[0][0], N_IN, &y[0][0], N_OUT, N_IN, N_OUT, N_TRAIN);
    if (st != GN_OK)
        return fail("gn_dataset_wrap", st, NULL);
    st = gn_dataset_wrap(&val, &x[N_TRAIN][0], N_IN, &y[N_TRAIN][0], N_OUT, N_IN, N_OUT,
                         N_RUNS - N_TRAIN);
    if (st != GN_OK)
        return fail("gn_dataset_wrap", st, NULL);

    /* 2. A 3-32-32-2 regression network. */
    const size_t sizes[] = {N_IN, 32, 32, N_OUT};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes;
    cfg.n_sizes = 4;
    cfg.hidden_act = GN_ACT_TANH;
    cfg.output_act = GN_ACT_IDENTITY;
    cfg.loss = GN_LOSS_QUADRATIC;
    cfg.seed = 7;
    gn_net *net;
    if ((st = gn_net_config_check(&cfg, err, sizeof err)) != GN_OK) {
        fprintf(stderr, "bad configuration: %s\n", err);
        return 1;
    }
    if ((st = gn_net_create(&net, &cfg)) != GN_OK)
        return fail("gn_net_create", st, NULL);

    /* 3. Train: Adam, inputs and targets standardised on the training runs. */
    gn_fit_options fit;
    gn_fit_options_defaults(&fit);
    fit.epochs = 150;
    fit.batch = 32;
    fit.opt.lr = 0.003f;
    fit.schedule = GN_SCHEDULE_COSINE;
    fit.standardize = GN_STANDARDIZE_INPUTS | GN_STANDARDIZE_OUTPUTS;
    gn_fit_result res;
    if ((st = gn_net_fit(net, train, val, &fit, &res)) != GN_OK)
        return fail("gn_net_fit", st, net);
    printf("trained %zu epochs in %.2f s, best validation loss %.3g (epoch %zu)\n", res.epochs,
           res.train_seconds, res.best_val_loss, res.best_epoch);

    /* 4. Score and predict, in the host's units. */
    double mse, r2;
    st = gn_net_regression_metrics(net, &x[N_TRAIN][0], N_IN, &y[N_TRAIN][0], N_OUT,
                                   N_RUNS - N_TRAIN, &mse, NULL, &r2);
    if (st != GN_OK)
        return fail("gn_net_regression_metrics", st, net);
    printf("held-out runs: mse %.4g, r2 %.5f\n", mse, r2);

    float shot[1][N_IN] = {{25.0f, 0.7f, 0.01f}}, hit[1][N_OUT], truth[N_OUT];
    if ((st = gn_net_predict(net, &shot[0][0], N_IN, 1, &hit[0][0], N_OUT)) != GN_OK)
        return fail("gn_net_predict", st, net);
    simulate(shot[0], truth);
    printf("25 m/s at 0.7 rad: range %.2f m (simulated %.2f), top %.2f m (%.2f)\n", hit[0][0],
           truth[0], hit[0][1], truth[1]);

    /* 5. Save, and load back a copy (it predicts in step 7). */
    if ((st = gn_net_save(net, path, err, sizeof err)) != GN_OK) {
        fprintf(stderr, "cannot save %s: %s\n", path, err);
        return 1;
    }
    gn_net *loaded;
    if ((st = gn_net_load(&loaded, path, err, sizeof err)) != GN_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, err);
        return 1;
    }

    /* 6. Errors: a leading dimension smaller than the number of inputs. */
    static float pred[N_RUNS][N_OUT];
    st = gn_net_predict(net, &x[0][0], 2, N_RUNS, &pred[0][0], N_OUT);
    if (st != GN_OK)
        printf("expected failure: %s: %s\n", gn_strerror(st), gn_net_last_error(net));
    int bad = st != GN_ERR_DIM;

    /* 7. Threads: one network each, one BLAS thread each. */
    st = gn_set_threads(1);
    if (st != GN_OK && st != GN_ERR_UNSUPPORTED)
        return fail("gn_set_threads", st, NULL);
    if ((st = gn_net_predict(net, &x[0][0], N_IN, N_RUNS, &pred[0][0], N_OUT)) != GN_OK)
        return fail("gn_net_predict", st, net);
    static float par[N_RUNS][N_OUT];
    enum { HALF = 1024 }; /* a multiple of the workspace (128): the same sgemm shapes */
    struct job jobs[2] = {
        {net, &x[0][0], &par[0][0], HALF, GN_OK},
        {loaded, &x[HALF][0], &par[HALF][0], N_RUNS - HALF, GN_OK},
    };
    pthread_t tid[2];
    for (int t = 0; t < 2; t++)
        if (pthread_create(&tid[t], NULL, predict_job, &jobs[t]) != 0) {
            fprintf(stderr, "cannot start a thread\n");
            return 1;
        }
    for (int t = 0; t < 2; t++)
        pthread_join(tid[t], NULL);

    /* The checks that make this program a test. */
    for (int t = 0; t < 2; t++)
        bad |= jobs[t].status != GN_OK;
    bad |= memcmp(par, pred, sizeof pred) != 0;
    bad |= !(r2 >= MIN_R2);
    printf("%s\n", bad ? "FAILED" : "ok");
    gn_net_free(loaded);
    gn_net_free(net);
    gn_dataset_free(val);
    gn_dataset_free(train);
    return bad;
}
