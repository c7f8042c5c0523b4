/* A surrogate model: a small network that learns a smooth function of three parameters from
 * samples a host code has already computed, then stands in for it.
 *
 * The "simulation" is the free response of an underdamped harmonic oscillator (damping
 * ratio 0 < ζ < 1, natural frequency ω, starting at x = 1 with velocity −ζω):
 *
 *     x(t; ζ, ω) = e^(−ζωt) · cos(ω·√(1 − ζ²)·t),
 *
 * evaluated on a grid of (t, ζ, ω). The host keeps its results in its own table, one row per
 * run: {t, ζ, ω, x}. gemmnet trains on that table where it lies: gn_dataset_wrap views it
 * without copying, with the features in the first three columns and the target in the
 * fourth. The surrogate is then scored on random (t, ζ, ω) between the grid points, and its
 * input Jacobian (gn_net_jacobian) gives the sensitivity ∂x/∂ζ, compared with the exact one.
 *
 * Exit status 0 when the held-out RMSE is below MAX_RMSE and the relative error of ∂x/∂ζ
 * below MAX_DREL, 1 otherwise or on any error.
 *
 * Build against an installed gemmnet (-lm for the host's own exp and cos):
 *     cc surrogate.c $(pkg-config --cflags --libs gemmnet) -lm
 */
#include <gemmnet.h>
#include <math.h>
#include <stdio.h>

/* The grid: 41 times × 12 damping ratios × 12 frequencies = 5904 training runs. */
#define N_T     41
#define N_ZETA  12
#define N_OMEGA 12
#define N_TRAIN (N_T * N_ZETA * N_OMEGA)
#define N_TEST  1000

#define T_MAX     4.0
#define ZETA_MIN  0.05
#define ZETA_MAX  0.5
#define OMEGA_MIN 0.5
#define OMEGA_MAX 2.0

/* Columns of the host's table. */
enum { COL_T, COL_ZETA, COL_OMEGA, COL_X, N_COLS };

/* The acceptance bound on the held-out error, in units of x (which lies in [−1, 1]). */
#define MAX_RMSE 0.02
/* ... and on its derivative ∂x/∂ζ, relative RMS over the held-out runs: a surrogate fitted to
 * values only is not trained on slopes, so this bound is looser. */
#define MAX_DREL 0.25

/* The host's storage: plain C arrays, row j = run j. Static because they are large for the
 * stack; a real host might have them from malloc or from a file, it makes no difference. */
static float train_runs[N_TRAIN][N_COLS];
static float test_runs[N_TEST][N_COLS];

static double oscillator(double t, double zeta, double omega)
{
    return exp(-zeta * omega * t) * cos(omega * sqrt(1.0 - zeta * zeta) * t);
}

/* ∂x/∂ζ, the exact sensitivity the surrogate's Jacobian is compared with. */
static double dx_dzeta(double t, double zeta, double omega)
{
    double w = omega * sqrt(1.0 - zeta * zeta);
    return omega * t * exp(-zeta * omega * t) *
           (zeta / sqrt(1.0 - zeta * zeta) * sin(w * t) - cos(w * t));
}

static void run(float row[N_COLS], double t, double zeta, double omega)
{
    row[COL_T] = (float)t;
    row[COL_ZETA] = (float)zeta;
    row[COL_OMEGA] = (float)omega;
    row[COL_X] = (float)oscillator(t, zeta, omega);
}

/* The "simulation" campaign: a full grid for training, then random parameters for testing.
 * The test points are drawn with gemmnet's own generator only so that the example is
 * reproducible without depending on the C library's rand(). */
static void simulate(void)
{
    size_t j = 0;
    for (int a = 0; a < N_ZETA; a++) {
        double zeta = ZETA_MIN + (ZETA_MAX - ZETA_MIN) * a / (N_ZETA - 1);
        for (int b = 0; b < N_OMEGA; b++) {
            double omega = OMEGA_MIN + (OMEGA_MAX - OMEGA_MIN) * b / (N_OMEGA - 1);
            for (int c = 0; c < N_T; c++)
                run(train_runs[j++], T_MAX * c / (N_T - 1), zeta, omega);
        }
    }
    gn_rng rng;
    gn_rng_seed(&rng, 2024);
    for (j = 0; j < N_TEST; j++) {
        double t = T_MAX * gn_rng_uniform(&rng);
        double zeta = ZETA_MIN + (ZETA_MAX - ZETA_MIN) * gn_rng_uniform(&rng);
        double omega = OMEGA_MIN + (OMEGA_MAX - OMEGA_MIN) * gn_rng_uniform(&rng);
        run(test_runs[j], t, zeta, omega);
    }
}

/* Prints what failed: gn_net_last_error has the details when a network is involved. */
static int fail(const char *what, gn_status st, const gn_net *net)
{
    const char *detail = gn_net_last_error(net); /* "" for NULL or when nothing is kept */
    fprintf(stderr, "surrogate: %s: %s%s%s\n", what, gn_strerror(st), *detail ? ": " : "", detail);
    return 1;
}

int main(void)
{
    simulate();

    /* gemmnet reads sample j of a features × n matrix at X + j·ldx. Row j of the table starts
     * at &train_runs[j][0] = &train_runs[0][0] + j·N_COLS, so the table is the feature matrix
     * with ldx = N_COLS (its first 3 entries per row are read, x is skipped), and the targets
     * are the same table shifted to column COL_X, with ldy = N_COLS. Nothing is copied: the
     * arrays must simply outlive the dataset and not change while it exists. */
    gn_dataset *train = NULL;
    gn_status st = gn_dataset_wrap(&train, &train_runs[0][COL_T], N_COLS, &train_runs[0][COL_X],
                                   N_COLS, 3, 1, N_TRAIN);
    if (st != GN_OK)
        return fail("gn_dataset_wrap", st, NULL);

    /* 3 inputs, two tanh layers (smooth, like the function: its derivatives, which a
     * sensitivity analysis will want, are smooth too), one identity output for regression. */
    const size_t sizes[] = {3, 32, 32, 1};
    const gn_act acts[] = {GN_ACT_TANH, GN_ACT_TANH, GN_ACT_IDENTITY};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.n_sizes = sizeof sizes / sizeof sizes[0];
    cfg.sizes = sizes;
    cfg.acts = acts;
    cfg.loss = GN_LOSS_QUADRATIC;
    cfg.seed = 7;
    gn_net *net = NULL;
    st = gn_net_create(&net, &cfg);
    if (st != GN_OK) {
        char why[256];
        gn_net_config_check(&cfg, why, sizeof why); /* no network to hold the message */
        fprintf(stderr, "surrogate: gn_net_create: %s: %s\n", gn_strerror(st), why);
        gn_dataset_free(train);
        return 1;
    }

    /* Standardise inputs and target with the training set's statistics. t runs to 4 while ζ
     * stays below 0.5: unscaled, t would dominate the first layer's pre-activations and
     * saturate the tanh units. The scaling becomes part of the model, so every later call
     * (fit, predict, metrics, a saved file) takes and returns raw units. (gn_net_fit can do
     * the same with GN_STANDARDIZE_INPUTS | GN_STANDARDIZE_OUTPUTS; the explicit calls show
     * where the numbers come from and would let a host use statistics of its own.) */
    float in_mean[3], in_std[3], out_mean[1], out_std[1];
    int rc = 1;
    if ((st = gn_dataset_mean_std(train, 0, in_mean, in_std)) != GN_OK ||
        (st = gn_dataset_mean_std(train, 1, out_mean, out_std)) != GN_OK) {
        fail("gn_dataset_mean_std", st, NULL);
        goto out;
    }
    if ((st = gn_net_set_input_scaling(net, in_mean, in_std)) != GN_OK ||
        (st = gn_net_set_output_scaling(net, out_mean, out_std)) != GN_OK) {
        fail("scaling", st, net);
        goto out;
    }

    /* Adam, cosine-annealed: a large step early to find the shape, a small one late to fit
     * the last digits. standardize = 0 keeps the scaling set above. */
    gn_fit_options fo;
    gn_fit_options_defaults(&fo);
    fo.epochs = 60;
    fo.batch = 32;
    fo.opt.lr = 0.005f;
    fo.schedule = GN_SCHEDULE_COSINE;
    fo.min_lr = 1e-5f;
    fo.standardize = 0;
    gn_fit_result res;
    st = gn_net_fit(net, train, NULL, &fo, &res);
    if (st != GN_OK) {
        fail("gn_net_fit", st, net);
        goto out;
    }
    printf("trained %zu epochs on %d grid points in %.2f s, last training loss %.3g "
           "(standardised units)\n",
           res.epochs, N_TRAIN, res.train_seconds, res.train_loss);

    /* Held-out error on the random runs, in raw units of x (the output scaling is undone). */
    double mse, mae, r2;
    st = gn_net_regression_metrics(net, &test_runs[0][COL_T], N_COLS, &test_runs[0][COL_X], N_COLS,
                                   N_TEST, &mse, &mae, &r2);
    if (st != GN_OK) {
        fail("gn_net_regression_metrics", st, net);
        goto out;
    }
    double rmse = sqrt(mse);
    printf("held-out (%d random runs): RMSE %.4f  MAE %.4f  R^2 %.5f\n", N_TEST, rmse, mae, r2);

    /* A few predictions next to the truth. The outputs go to the host's own array. */
    enum { N_SHOW = 6 };
    float pred[N_SHOW];
    st = gn_net_predict(net, &test_runs[0][COL_T], N_COLS, N_SHOW, pred, 1);
    if (st != GN_OK) {
        fail("gn_net_predict", st, net);
        goto out;
    }
    printf("     t      zeta   omega    x(true)   x(surrogate)\n");
    for (int j = 0; j < N_SHOW; j++)
        printf("  %6.3f  %6.3f  %6.3f  %9.5f  %9.5f\n", test_runs[j][COL_T], test_runs[j][COL_ZETA],
               test_runs[j][COL_OMEGA], test_runs[j][COL_X], pred[j]);

    /* Sensitivities: the surrogate's Jacobian ∂x/∂(t, ζ, ω) at every held-out point, in raw
     * units (the scaling is part of the model), one 1 × 3 matrix per run. A host would use it
     * for uncertainty propagation or inside a Newton solve; here ∂x/∂ζ is compared with the
     * exact derivative. */
    static float jac[N_TEST][3];
    st = gn_net_jacobian(net, &test_runs[0][COL_T], N_COLS, N_TEST, &jac[0][0], 1);
    if (st != GN_OK) {
        fail("gn_net_jacobian", st, net);
        goto out;
    }
    double d_err = 0.0, d_ref = 0.0;
    for (int j = 0; j < N_TEST; j++) {
        double exact =
            dx_dzeta(test_runs[j][COL_T], test_runs[j][COL_ZETA], test_runs[j][COL_OMEGA]);
        d_err += (jac[j][COL_ZETA] - exact) * (jac[j][COL_ZETA] - exact);
        d_ref += exact * exact;
    }
    double d_rel = sqrt(d_err / d_ref);
    printf("dx/dzeta at the points above (exact, surrogate):");
    for (int j = 0; j < N_SHOW; j++)
        printf(" (%.3f, %.3f)",
               dx_dzeta(test_runs[j][COL_T], test_runs[j][COL_ZETA], test_runs[j][COL_OMEGA]),
               jac[j][COL_ZETA]);
    printf("\ndx/dzeta over the %d held-out runs: relative RMS error %.3f\n", N_TEST, d_rel);

    if (!(rmse < MAX_RMSE)) { /* also false for NaN */
        fprintf(stderr, "surrogate: held-out RMSE %.4f is not below %.4f\n", rmse, MAX_RMSE);
        goto out;
    }
    if (!(d_rel < MAX_DREL)) {
        fprintf(stderr, "surrogate: dx/dzeta relative error %.3f is not below %.3f\n", d_rel,
                MAX_DREL);
        goto out;
    }
    rc = 0;
out:
    gn_net_free(net);
    gn_dataset_free(train);
    return rc;
}
