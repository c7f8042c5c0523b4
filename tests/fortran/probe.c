/* What the C compiler knows about gemmnet.h, for the Fortran test to compare the module with:
 * the size and member offsets of every struct the module mirrors, and the value of every
 * constant it defines. The Fortran side looks entries up by name. */
#include <gemmnet.h>

#include <stddef.h>
#include <string.h>

typedef struct member {
    const char *type, *name;
    size_t offset, size;
} member;

/* clang-format off */
#define M(T, F) {#T, #F, offsetof(T, F), sizeof(((T *)0)->F)}
/* clang-format on */

static const member members[] = {
    M(gn_net_config, n_sizes),
    M(gn_net_config, sizes),
    M(gn_net_config, acts),
    M(gn_net_config, hidden_act),
    M(gn_net_config, output_act),
    M(gn_net_config, loss),
    M(gn_net_config, init),
    M(gn_net_config, seed),
    M(gn_net_config, max_batch),
    M(gn_net_config, leaky_slope),
    M(gn_net_config, impl),
    M(gn_net_config, huber_delta),

    M(gn_epoch_info, epoch),
    M(gn_epoch_info, epochs),
    M(gn_epoch_info, train_loss),
    M(gn_epoch_info, seconds),
    M(gn_epoch_info, samples),
    M(gn_epoch_info, val_loss),
    M(gn_epoch_info, val_accuracy),
    M(gn_epoch_info, lr),

    M(gn_train_options, epochs),
    M(gn_train_options, batch),
    M(gn_train_options, eta),
    M(gn_train_options, shuffle),
    M(gn_train_options, on_epoch),
    M(gn_train_options, user),

    M(gn_rng, s),

    M(gn_csv_options, header),
    M(gn_csv_options, label_column),
    M(gn_csv_options, delimiter),
    M(gn_csv_options, regression),

    M(gn_array_options, regression),
    M(gn_array_options, n_classes),

    M(gn_optimizer_config, kind),
    M(gn_optimizer_config, lr),
    M(gn_optimizer_config, momentum),
    M(gn_optimizer_config, rho),
    M(gn_optimizer_config, beta1),
    M(gn_optimizer_config, beta2),
    M(gn_optimizer_config, eps),
    M(gn_optimizer_config, weight_decay),
    M(gn_optimizer_config, l2),
    M(gn_optimizer_config, clip_norm),

    M(gn_fit_progress, epochs_done),
    M(gn_fit_progress, best_epoch),
    M(gn_fit_progress, best_val_loss),
    M(gn_fit_progress, best_params),

    M(gn_fit_options, epochs),
    M(gn_fit_options, batch),
    M(gn_fit_options, opt),
    M(gn_fit_options, optimizer),
    M(gn_fit_options, schedule),
    M(gn_fit_options, step_epochs),
    M(gn_fit_options, gamma),
    M(gn_fit_options, min_lr),
    M(gn_fit_options, dropout),
    M(gn_fit_options, standardize),
    M(gn_fit_options, patience),
    M(gn_fit_options, restore_best),
    M(gn_fit_options, shuffle),
    M(gn_fit_options, on_epoch),
    M(gn_fit_options, on_batch),
    M(gn_fit_options, user),
    M(gn_fit_options, resume),
    M(gn_fit_options, checkpoint_path),
    M(gn_fit_options, checkpoint_every),
    M(gn_fit_options, checkpoint_meta),

    M(gn_fit_result, epochs),
    M(gn_fit_result, best_epoch),
    M(gn_fit_result, best_val_loss),
    M(gn_fit_result, train_loss),
    M(gn_fit_result, train_seconds),
    M(gn_fit_result, samples),
    M(gn_fit_result, stopped_early),

    M(gn_checkpoint_info, format_version),
    M(gn_checkpoint_info, n_sections),
    M(gn_checkpoint_info, n_skipped),
    M(gn_checkpoint_info, crc),
    M(gn_checkpoint_info, file_bytes),
    M(gn_checkpoint_info, has_scaling),
    M(gn_checkpoint_info, has_optimizer),
    M(gn_checkpoint_info, has_rng),
    M(gn_checkpoint_info, has_progress),
    M(gn_checkpoint_info, has_meta),

    M(gn_blas_info, config),
    M(gn_blas_info, corename),
    M(gn_blas_info, parallel),
    M(gn_blas_info, threads),
    M(gn_blas_info, cores),
};

typedef struct structure {
    const char *name;
    size_t size;
} structure;

/* clang-format off */
#define S(T) {#T, sizeof(T)}
/* clang-format on */

static const structure structs[] = {
    S(gn_net_config),  S(gn_epoch_info),    S(gn_train_options),    S(gn_rng),
    S(gn_csv_options), S(gn_array_options), S(gn_optimizer_config), S(gn_fit_progress),
    S(gn_fit_options), S(gn_fit_result),    S(gn_checkpoint_info),  S(gn_blas_info),
};

typedef struct constant {
    const char *name;
    long long value;
} constant;

/* clang-format off */
#define C(X) {#X, (long long)(X)}
/* clang-format on */

static const constant constants[] = {
    C(GN_VERSION_MAJOR),
    C(GN_VERSION_MINOR),
    C(GN_VERSION_PATCH),
    C(GN_VERSION_NUMBER),
    C(GN_OK),
    C(GN_ERR_NULL),
    C(GN_ERR_ARG),
    C(GN_ERR_DIM),
    C(GN_ERR_BATCH),
    C(GN_ERR_NONFINITE),
    C(GN_ERR_NOMEM),
    C(GN_ERR_UNSUPPORTED),
    C(GN_ERR_IO),
    C(GN_ERR_FORMAT),
    C(GN_ERR_MAGIC),
    C(GN_ERR_VERSION),
    C(GN_ERR_TRUNCATED),
    C(GN_ERR_TRAILING),
    C(GN_ERR_CHECKSUM),
    C(GN_ERR_LIMIT),
    C(GN_ERR_SECTION),
    C(GN_ERR_VALUE),
    C(GN_ERR_DIVERGED),
    C(GN_ERR_SINGULAR),
    C(GN_NOTRANS),
    C(GN_TRANS),
    C(GN_IMPL_BLAS),
    C(GN_IMPL_NAIVE),
    C(GN_IMPL_LOOP),
    C(GN_BACKEND_AUTO),
    C(GN_BACKEND_OPENBLAS),
    C(GN_BACKEND_ONEDNN),
    C(GN_BACKEND_LIBXSMM),
    C(GN_BACKEND_COUNT),
    C(GN_ACT_IDENTITY),
    C(GN_ACT_SIGMOID),
    C(GN_ACT_TANH),
    C(GN_ACT_RELU),
    C(GN_ACT_LEAKY_RELU),
    C(GN_ACT_SOFTMAX),
    C(GN_ACT_ELU),
    C(GN_ACT_SOFTPLUS),
    C(GN_ACT_COUNT),
    C(GN_LOSS_QUADRATIC),
    C(GN_LOSS_BCE),
    C(GN_LOSS_CCE),
    C(GN_LOSS_MAE),
    C(GN_LOSS_HUBER),
    C(GN_LOSS_COUNT),
    C(GN_INIT_AUTO),
    C(GN_INIT_XAVIER),
    C(GN_INIT_HE),
    C(GN_INIT_NIELSEN),
    C(GN_INIT_ORTHOGONAL),
    C(GN_INIT_COUNT),
    C(GN_MAX_WIDTH),
    C(GN_MAX_SIZES),
    C(GN_PRODUCT_FORWARD),
    C(GN_PRODUCT_DELTA),
    C(GN_PRODUCT_WEIGHT),
    C(GN_PRODUCT_COUNT),
    C(GN_SAMPLES_IN_COLUMNS),
    C(GN_SAMPLES_IN_ROWS),
    C(GN_OPT_SGD),
    C(GN_OPT_MOMENTUM),
    C(GN_OPT_NESTEROV),
    C(GN_OPT_RMSPROP),
    C(GN_OPT_ADAM),
    C(GN_OPT_ADAMW),
    C(GN_OPT_COUNT),
    C(GN_SCHEDULE_CONSTANT),
    C(GN_SCHEDULE_STEP),
    C(GN_SCHEDULE_COSINE),
    C(GN_STANDARDIZE_INPUTS),
    C(GN_STANDARDIZE_OUTPUTS),
    C(GN_BLAS_PARALLEL_UNKNOWN),
    C(GN_BLAS_PARALLEL_SEQUENTIAL),
    C(GN_BLAS_PARALLEL_PTHREADS),
    C(GN_BLAS_PARALLEL_OPENMP),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* sizeof the struct and its number of members; 0 if the name is unknown. */
int gnf_probe_struct(const char *type, size_t *size, size_t *n_members)
{
    for (size_t i = 0; i < COUNT(structs); i++) {
        if (strcmp(structs[i].name, type) == 0) {
            *size = structs[i].size;
            *n_members = 0;
            for (size_t k = 0; k < COUNT(members); k++)
                *n_members += strcmp(members[k].type, type) == 0;
            return 1;
        }
    }
    return 0;
}

/* offsetof and sizeof one member; 0 if unknown. */
int gnf_probe_member(const char *type, const char *name, size_t *offset, size_t *size)
{
    for (size_t k = 0; k < COUNT(members); k++) {
        if (strcmp(members[k].type, type) == 0 && strcmp(members[k].name, name) == 0) {
            *offset = members[k].offset;
            *size = members[k].size;
            return 1;
        }
    }
    return 0;
}

/* The value of a constant of the header; 0 if unknown. */
int gnf_probe_constant(const char *name, long long *value)
{
    for (size_t i = 0; i < COUNT(constants); i++) {
        if (strcmp(constants[i].name, name) == 0) {
            *value = constants[i].value;
            return 1;
        }
    }
    return 0;
}

/* How many constants and structs the probe knows, so the test can see it checked them all. */
size_t gnf_probe_n_constants(void) { return COUNT(constants); }
size_t gnf_probe_n_structs(void) { return COUNT(structs); }

/* GN_VERSION_STRING as the header has it (NUL-terminated, static). */
const char *gnf_probe_version_string(void) { return GN_VERSION_STRING; }
