! gemmnet — Fortran bindings over the C API of include/gemmnet.h (iso_c_binding, Fortran 2018).
!
! Two layers, both in this one module:
!
!  1. The C API itself: every enumerator and status code as a named integer(c_int) constant,
!     every option struct as a bind(C) derived type of the same name, and a bind(C) interface
!     for every function, under its C name (gn_net_create, gn_net_predict, …), with the C
!     prototype translated one to one: size_t → integer(c_size_t) by value, uint64_t →
!     integer(c_int64_t), float → real(c_float), double → real(c_double), enums and int →
!     integer(c_int), long → integer(c_long), opaque objects → type(c_ptr), data pointers →
!     assumed-size arrays, pointers that may be NULL → optional arguments (absent = NULL).
!     include/gemmnet.h documents every one of them (shapes, ownership, statuses, threads).
!     Two C names are taken by the Fortran layer: gn_version and gn_strerror are bound as
!     gn_version_c and gn_strerror_c.
!
!  2. Fortran procedures on top, taking assumed-shape arrays and Fortran strings:
!     gn_create, gn_create_config, gn_free, gn_predict, gn_evaluate, gn_train, gn_fit,
!     gn_fit_lstsq, gn_jacobian, gn_jvp, gn_vjp, gn_input_gradient, gn_save, gn_load,
!     gn_params, and the string functions gn_version, gn_strerror, gn_error_message.
!
! The module re-exports iso_c_binding: `use gemmnet` alone gives c_float, c_ptr, c_loc, ….
!
! Layouts. A Fortran array X(n_features, n) is the library's own layout (sample j is column
! j, ld = n_features); X(n, n_features), one column per variable, is GN_SAMPLES_IN_ROWS with
! ld = n. Procedures that accept both take an optional layout argument (default
! GN_SAMPLES_IN_COLUMNS), and read either in place. Arrays are declared contiguous: a
! non-contiguous actual argument (an array section with a stride) is copied by the compiler
! into a temporary and, for outputs, back.
!
! Errors. Every procedure of layer 2 that can fail has an intent(out) status (GN_OK or a
! negative gn_status) and an optional errmsg (allocatable string) that says what was wrong:
! the library's message (gn_net_last_error) for what the library refused, or the wrapper's
! own for what it checks before calling the library (array extents that do not match the
! network, a layout that is not one). The wrapper's own findings are not stored on the
! network: gn_error_message(net) keeps the library's last message only. Nothing here prints,
! stops or aborts.
!
! Memory. A network is a type(c_ptr) handle owned by the caller: free it with gn_free (or
! gn_net_free). Arrays passed in are not retained after a call returns.
!
! Threads. As in C: distinct networks may be used from distinct threads; one network from one
! thread at a time. The module has no variables, only constants and procedures.
!
! Compiling. This file is installed as source next to gemmnet.h: compile it with the compiler
! of your program (a .mod file is specific to the compiler, and often its version, that wrote
! it) and link with -lgemmnet. See docs/fortran.md.
module gemmnet
    use, intrinsic :: iso_c_binding
    use, intrinsic :: iso_fortran_env, only: int8, int16, int32, int64
    implicit none

    private :: c_strlen, c_string, c_chars_to_string, library_status, check_net, check_xy, &
               check_layout, check_matrix, features_of, samples_of, LIBRARY_ERRLEN

    !==== Version of the header these bindings were written for ================================

    integer(c_int), parameter :: GN_VERSION_MAJOR = 0
    integer(c_int), parameter :: GN_VERSION_MINOR = 4
    integer(c_int), parameter :: GN_VERSION_PATCH = 0
    integer(c_int), parameter :: GN_VERSION_NUMBER = &
        GN_VERSION_MAJOR*10000 + GN_VERSION_MINOR*100 + GN_VERSION_PATCH
    character(len=*), parameter :: GN_VERSION_STRING = '0.4.0'

    !==== gn_status =============================================================================

    integer(c_int), parameter :: GN_OK = 0
    integer(c_int), parameter :: GN_ERR_NULL = -1
    integer(c_int), parameter :: GN_ERR_ARG = -2
    integer(c_int), parameter :: GN_ERR_DIM = -3
    integer(c_int), parameter :: GN_ERR_BATCH = -4
    integer(c_int), parameter :: GN_ERR_NONFINITE = -5
    integer(c_int), parameter :: GN_ERR_NOMEM = -6
    integer(c_int), parameter :: GN_ERR_UNSUPPORTED = -7
    integer(c_int), parameter :: GN_ERR_IO = -8
    integer(c_int), parameter :: GN_ERR_FORMAT = -9
    integer(c_int), parameter :: GN_ERR_MAGIC = -10
    integer(c_int), parameter :: GN_ERR_VERSION = -11
    integer(c_int), parameter :: GN_ERR_TRUNCATED = -12
    integer(c_int), parameter :: GN_ERR_TRAILING = -13
    integer(c_int), parameter :: GN_ERR_CHECKSUM = -14
    integer(c_int), parameter :: GN_ERR_LIMIT = -15
    integer(c_int), parameter :: GN_ERR_SECTION = -16
    integer(c_int), parameter :: GN_ERR_VALUE = -17
    integer(c_int), parameter :: GN_ERR_DIVERGED = -18
    integer(c_int), parameter :: GN_ERR_SINGULAR = -19

    !==== Enumerations ==========================================================================

    ! gn_trans
    integer(c_int), parameter :: GN_NOTRANS = 0, GN_TRANS = 1
    ! gn_impl
    integer(c_int), parameter :: GN_IMPL_BLAS = 0, GN_IMPL_NAIVE = 1, GN_IMPL_LOOP = 2
    ! gn_backend
    integer(c_int), parameter :: GN_BACKEND_AUTO = 0, GN_BACKEND_OPENBLAS = 1, &
                                 GN_BACKEND_ONEDNN = 2, GN_BACKEND_LIBXSMM = 3, &
                                 GN_BACKEND_COUNT = 4
    ! gn_act
    integer(c_int), parameter :: GN_ACT_IDENTITY = 0, GN_ACT_SIGMOID = 1, GN_ACT_TANH = 2, &
                                 GN_ACT_RELU = 3, GN_ACT_LEAKY_RELU = 4, GN_ACT_SOFTMAX = 5, &
                                 GN_ACT_ELU = 6, GN_ACT_SOFTPLUS = 7, GN_ACT_COUNT = 8
    ! gn_loss
    integer(c_int), parameter :: GN_LOSS_QUADRATIC = 0, GN_LOSS_BCE = 1, GN_LOSS_CCE = 2, &
                                 GN_LOSS_MAE = 3, GN_LOSS_HUBER = 4, GN_LOSS_COUNT = 5
    ! gn_init
    integer(c_int), parameter :: GN_INIT_AUTO = 0, GN_INIT_XAVIER = 1, GN_INIT_HE = 2, &
                                 GN_INIT_NIELSEN = 3, GN_INIT_ORTHOGONAL = 4, GN_INIT_COUNT = 5
    ! Largest layer width and largest number of sizes (L + 1) gn_net_create accepts.
    integer(c_size_t), parameter :: GN_MAX_WIDTH = 16777216_c_size_t
    integer(c_int), parameter :: GN_MAX_SIZES = 256
    ! gn_product
    integer(c_int), parameter :: GN_PRODUCT_FORWARD = 0, GN_PRODUCT_DELTA = 1, &
                                 GN_PRODUCT_WEIGHT = 2, GN_PRODUCT_COUNT = 3
    ! gn_layout
    integer(c_int), parameter :: GN_SAMPLES_IN_COLUMNS = 0, GN_SAMPLES_IN_ROWS = 1
    ! gn_opt
    integer(c_int), parameter :: GN_OPT_SGD = 0, GN_OPT_MOMENTUM = 1, GN_OPT_NESTEROV = 2, &
                                 GN_OPT_RMSPROP = 3, GN_OPT_ADAM = 4, GN_OPT_ADAMW = 5, &
                                 GN_OPT_COUNT = 6
    ! gn_schedule
    integer(c_int), parameter :: GN_SCHEDULE_CONSTANT = 0, GN_SCHEDULE_STEP = 1, &
                                 GN_SCHEDULE_COSINE = 2
    ! Flags of gn_fit_options%standardize (an unsigned int in C; combine with ior).
    integer(c_int), parameter :: GN_STANDARDIZE_INPUTS = 1, GN_STANDARDIZE_OUTPUTS = 2
    ! gn_blas_parallel
    integer(c_int), parameter :: GN_BLAS_PARALLEL_UNKNOWN = -1, GN_BLAS_PARALLEL_SEQUENTIAL = 0, &
                                 GN_BLAS_PARALLEL_PTHREADS = 1, GN_BLAS_PARALLEL_OPENMP = 2

    ! Size of the message buffers handed to the C calls that report into one.
    integer, parameter :: LIBRARY_ERRLEN = 1024

    !==== Structures (bind(C) mirrors of the C structs, same names and members) ================
    ! Fill them with the matching *_defaults call before setting members. Pointer members are
    ! type(c_ptr) (c_loc of a target, or c_null_ptr), callbacks type(c_funptr) (c_funloc of a
    ! bind(C) procedure with the gn_epoch_fn or gn_batch_fn interface, or c_null_funptr);
    ! strings such as checkpoint_path must be NUL-terminated (trim(s)//c_null_char in a
    ! character(kind=c_char) variable with the target attribute) and outlive the call.

    !> gn_net_config: everything gn_net_create needs. sizes (c_size_t array) and acts (c_int
    !> array) are read during gn_net_create only.
    type, bind(C) :: gn_net_config
        integer(c_size_t) :: n_sizes
        type(c_ptr) :: sizes
        type(c_ptr) :: acts
        integer(c_int) :: hidden_act
        integer(c_int) :: output_act
        integer(c_int) :: loss
        integer(c_int) :: init
        integer(c_int64_t) :: seed
        integer(c_size_t) :: max_batch
        real(c_float) :: leaky_slope
        integer(c_int) :: impl
        real(c_float) :: huber_delta
    end type gn_net_config

    !> gn_epoch_info: the report passed to an epoch callback.
    type, bind(C) :: gn_epoch_info
        integer(c_size_t) :: epoch
        integer(c_size_t) :: epochs
        real(c_double) :: train_loss
        real(c_double) :: seconds
        integer(c_size_t) :: samples
        real(c_double) :: val_loss
        real(c_double) :: val_accuracy
        real(c_float) :: lr
    end type gn_epoch_info

    !> gn_train_options: Nielsen's SGD loop (gn_net_train, gn_train).
    type, bind(C) :: gn_train_options
        integer(c_size_t) :: epochs
        integer(c_size_t) :: batch
        real(c_float) :: eta
        integer(c_int) :: shuffle
        type(c_funptr) :: on_epoch
        type(c_ptr) :: user
    end type gn_train_options

    !> gn_rng: the library's xoshiro256** state (copy it to save a stream).
    type, bind(C) :: gn_rng
        integer(c_int64_t) :: s(4)
    end type gn_rng

    !> gn_csv_options: gn_dataset_load_csv.
    type, bind(C) :: gn_csv_options
        integer(c_int) :: header
        integer(c_long) :: label_column
        character(kind=c_char) :: delimiter
        integer(c_int) :: regression
    end type gn_csv_options

    !> gn_array_options: gn_dataset_load_npy and gn_dataset_load_hdf5.
    type, bind(C) :: gn_array_options
        integer(c_int) :: regression
        integer(c_size_t) :: n_classes
    end type gn_array_options

    !> gn_optimizer_config: gn_optimizer_create and gn_fit_options%opt.
    type, bind(C) :: gn_optimizer_config
        integer(c_int) :: kind
        real(c_float) :: lr
        real(c_float) :: momentum
        real(c_float) :: rho
        real(c_float) :: beta1
        real(c_float) :: beta2
        real(c_float) :: eps
        real(c_float) :: weight_decay
        real(c_float) :: l2
        real(c_float) :: clip_norm
    end type gn_optimizer_config

    !> gn_fit_progress: where a gn_net_fit run stands (checkpoints).
    type, bind(C) :: gn_fit_progress
        integer(c_size_t) :: epochs_done
        integer(c_size_t) :: best_epoch
        real(c_double) :: best_val_loss
        type(c_ptr) :: best_params
    end type gn_fit_progress

    !> gn_fit_options: the full training loop (gn_net_fit, gn_fit). standardize holds C's
    !> unsigned int flags.
    type, bind(C) :: gn_fit_options
        integer(c_size_t) :: epochs
        integer(c_size_t) :: batch
        type(gn_optimizer_config) :: opt
        type(c_ptr) :: optimizer
        integer(c_int) :: schedule
        integer(c_size_t) :: step_epochs
        real(c_float) :: gamma
        real(c_float) :: min_lr
        real(c_float) :: dropout
        integer(c_int) :: standardize
        integer(c_size_t) :: patience
        integer(c_int) :: restore_best
        integer(c_int) :: shuffle
        type(c_funptr) :: on_epoch
        type(c_funptr) :: on_batch
        type(c_ptr) :: user
        type(c_ptr) :: resume
        type(c_ptr) :: checkpoint_path
        integer(c_size_t) :: checkpoint_every
        type(c_ptr) :: checkpoint_meta
    end type gn_fit_options

    !> gn_fit_result: what gn_net_fit reports.
    type, bind(C) :: gn_fit_result
        integer(c_size_t) :: epochs
        integer(c_size_t) :: best_epoch
        real(c_double) :: best_val_loss
        real(c_double) :: train_loss
        real(c_double) :: train_seconds
        integer(c_size_t) :: samples
        integer(c_int) :: stopped_early
    end type gn_fit_result

    !> gn_reducer: data-parallel training (gn_net_set_reducer). The hooks are bind(C)
    !> functions with C's signatures (see gemmnet.h), or c_null_funptr where optional.
    type, bind(C) :: gn_reducer
        integer(c_size_t) :: rank
        integer(c_size_t) :: workers
        type(c_funptr) :: reduce
        type(c_funptr) :: reduce_layer
        type(c_funptr) :: batch_total
        type(c_funptr) :: agree
        type(c_funptr) :: broadcast
        type(c_ptr) :: user
    end type gn_reducer

    !> gn_checkpoint_info: facts about a checkpoint file (uint32_t members as c_int32_t).
    type, bind(C) :: gn_checkpoint_info
        integer(c_int32_t) :: format_version
        integer(c_int32_t) :: n_sections
        integer(c_int32_t) :: n_skipped
        integer(c_int32_t) :: crc
        integer(c_int64_t) :: file_bytes
        integer(c_int) :: has_scaling
        integer(c_int) :: has_optimizer
        integer(c_int) :: has_rng
        integer(c_int) :: has_progress
        integer(c_int) :: has_meta
    end type gn_checkpoint_info

    !> gn_blas_info: which BLAS the library runs on (config and corename are static C strings).
    type, bind(C) :: gn_blas_info
        type(c_ptr) :: config
        type(c_ptr) :: corename
        integer(c_int) :: parallel
        integer(c_int) :: threads
        integer(c_int) :: cores
    end type gn_blas_info

    !==== Callbacks =============================================================================

    abstract interface
        !> gn_epoch_fn: called after each epoch; return non-zero to stop training.
        function gn_epoch_fn(net, info, user) bind(C) result(stop_training)
            import :: c_ptr, c_int, gn_epoch_info
            type(c_ptr), value :: net
            type(gn_epoch_info), intent(in) :: info
            type(c_ptr), value :: user
            integer(c_int) :: stop_training
        end function gn_epoch_fn

        !> gn_fit_options%on_batch: called after every mini-batch.
        subroutine gn_batch_fn(net, epoch, batch, n_batches, user) bind(C)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t), value :: epoch, batch, n_batches
            type(c_ptr), value :: user
        end subroutine gn_batch_fn
    end interface

    !==== The C functions =======================================================================

    interface
        ! libc, for the strings the library returns.
        function c_strlen(s) bind(C, name='strlen') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: s
            integer(c_size_t) :: n
        end function c_strlen

        !---- Version, status, threads ----

        function gn_version_c() bind(C, name='gn_version') result(s)
            import :: c_ptr
            type(c_ptr) :: s
        end function gn_version_c

        function gn_strerror_c(status) bind(C, name='gn_strerror') result(s)
            import :: c_ptr, c_int
            integer(c_int), value :: status
            type(c_ptr) :: s
        end function gn_strerror_c

        function gn_set_threads(n) bind(C, name='gn_set_threads') result(status)
            import :: c_int
            integer(c_int), value :: n
            integer(c_int) :: status
        end function gn_set_threads

        function gn_get_threads() bind(C, name='gn_get_threads') result(n)
            import :: c_int
            integer(c_int) :: n
        end function gn_get_threads

        !---- Matrix products ----

        function gn_gemm(impl, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc) &
            bind(C, name='gn_gemm') result(status)
            import :: c_int, c_size_t, c_float
            integer(c_int), value :: impl, transa, transb
            integer(c_size_t), value :: m, n, k, lda, ldb, ldc
            real(c_float), value :: alpha, beta
            real(c_float), intent(in) :: A(*), B(*)
            real(c_float), intent(inout) :: C(*)
            integer(c_int) :: status
        end function gn_gemm

        function gn_ref_gemm_naive(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, &
                                   ldc) bind(C, name='gn_ref_gemm_naive') result(status)
            import :: c_int, c_size_t, c_float
            integer(c_int), value :: transa, transb
            integer(c_size_t), value :: m, n, k, lda, ldb, ldc
            real(c_float), value :: alpha, beta
            real(c_float), intent(in) :: A(*), B(*)
            real(c_float), intent(inout) :: C(*)
            integer(c_int) :: status
        end function gn_ref_gemm_naive

        function gn_ref_gemm_loop(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, &
                                  ldc) bind(C, name='gn_ref_gemm_loop') result(status)
            import :: c_int, c_size_t, c_float
            integer(c_int), value :: transa, transb
            integer(c_size_t), value :: m, n, k, lda, ldb, ldc
            real(c_float), value :: alpha, beta
            real(c_float), intent(in) :: A(*), B(*)
            real(c_float), intent(inout) :: C(*)
            integer(c_int) :: status
        end function gn_ref_gemm_loop

        !---- GEMM backends ----

        function gn_backend_name(backend) bind(C, name='gn_backend_name') result(s)
            import :: c_int, c_ptr
            integer(c_int), value :: backend
            type(c_ptr) :: s
        end function gn_backend_name

        ! out is unchanged when the name is not a backend's, hence intent(inout).
        function gn_backend_parse(name, out) bind(C, name='gn_backend_parse') result(status)
            import :: c_char, c_int
            character(kind=c_char), intent(in) :: name(*)
            integer(c_int), intent(inout) :: out
            integer(c_int) :: status
        end function gn_backend_parse

        function gn_backend_available(backend) bind(C, name='gn_backend_available') result(yes)
            import :: c_int
            integer(c_int), value :: backend
            integer(c_int) :: yes
        end function gn_backend_available

        function gn_gemm_backend(backend, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, &
                                 C, ldc) bind(C, name='gn_gemm_backend') result(status)
            import :: c_int, c_size_t, c_float
            integer(c_int), value :: backend, transa, transb
            integer(c_size_t), value :: m, n, k, lda, ldb, ldc
            real(c_float), value :: alpha, beta
            real(c_float), intent(in) :: A(*), B(*)
            real(c_float), intent(inout) :: C(*)
            integer(c_int) :: status
        end function gn_gemm_backend

        !---- Network configuration and lifecycle ----

        subroutine gn_net_config_defaults(cfg) bind(C, name='gn_net_config_defaults')
            import :: gn_net_config
            type(gn_net_config), intent(out) :: cfg
        end subroutine gn_net_config_defaults

        function gn_net_config_check(cfg, err, errlen) bind(C, name='gn_net_config_check') &
            result(status)
            import :: gn_net_config, c_char, c_size_t, c_int
            type(gn_net_config), intent(in) :: cfg
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_net_config_check

        function gn_net_create(out, cfg) bind(C, name='gn_net_create') result(status)
            import :: c_ptr, gn_net_config, c_int
            type(c_ptr), intent(out) :: out
            type(gn_net_config), intent(in) :: cfg
            integer(c_int) :: status
        end function gn_net_create

        subroutine gn_net_free(net) bind(C, name='gn_net_free')
            import :: c_ptr
            type(c_ptr), value :: net
        end subroutine gn_net_free

        function gn_net_init_params(net, init, seed) bind(C, name='gn_net_init_params') &
            result(status)
            import :: c_ptr, c_int, c_int64_t
            type(c_ptr), value :: net
            integer(c_int), value :: init
            integer(c_int64_t), value :: seed
            integer(c_int) :: status
        end function gn_net_init_params

        function gn_net_reserve(net, max_batch) bind(C, name='gn_net_reserve') result(status)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), value :: net
            integer(c_size_t), value :: max_batch
            integer(c_int) :: status
        end function gn_net_reserve

        function gn_net_set_impl(net, impl) bind(C, name='gn_net_set_impl') result(status)
            import :: c_ptr, c_int
            type(c_ptr), value :: net
            integer(c_int), value :: impl
            integer(c_int) :: status
        end function gn_net_set_impl

        function gn_net_set_backend(net, backend) bind(C, name='gn_net_set_backend') &
            result(status)
            import :: c_ptr, c_int
            type(c_ptr), value :: net
            integer(c_int), value :: backend
            integer(c_int) :: status
        end function gn_net_set_backend

        function gn_net_backend(net) bind(C, name='gn_net_backend') result(backend)
            import :: c_ptr, c_int
            type(c_ptr), value :: net
            integer(c_int) :: backend
        end function gn_net_backend

        function gn_net_tune(net, batch) bind(C, name='gn_net_tune') result(status)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), value :: net
            integer(c_size_t), value :: batch
            integer(c_int) :: status
        end function gn_net_tune

        function gn_net_layer_backend(net, l, p) bind(C, name='gn_net_layer_backend') &
            result(backend)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), value :: net
            integer(c_size_t), value :: l
            integer(c_int), value :: p
            integer(c_int) :: backend
        end function gn_net_layer_backend

        function gn_net_tuned_batch(net) bind(C, name='gn_net_tuned_batch') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t) :: n
        end function gn_net_tuned_batch

        function gn_net_describe_backends(net, buf, len) &
            bind(C, name='gn_net_describe_backends') result(length)
            import :: c_ptr, c_char, c_size_t
            type(c_ptr), value :: net
            character(kind=c_char), intent(out), optional :: buf(*)
            integer(c_size_t), value :: len
            integer(c_size_t) :: length
        end function gn_net_describe_backends

        function gn_net_last_error(net) bind(C, name='gn_net_last_error') result(s)
            import :: c_ptr
            type(c_ptr), value :: net
            type(c_ptr) :: s
        end function gn_net_last_error

        !---- Scaling and dropout ----

        function gn_net_set_input_scaling(net, mean, std) &
            bind(C, name='gn_net_set_input_scaling') result(status)
            import :: c_ptr, c_float, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in), optional :: mean(*), std(*)
            integer(c_int) :: status
        end function gn_net_set_input_scaling

        function gn_net_set_output_scaling(net, mean, std) &
            bind(C, name='gn_net_set_output_scaling') result(status)
            import :: c_ptr, c_float, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in), optional :: mean(*), std(*)
            integer(c_int) :: status
        end function gn_net_set_output_scaling

        function gn_net_input_scaling(net, mean, std) bind(C, name='gn_net_input_scaling') &
            result(status)
            import :: c_ptr, c_int
            type(c_ptr), value :: net
            type(c_ptr), intent(out) :: mean, std
            integer(c_int) :: status
        end function gn_net_input_scaling

        function gn_net_output_scaling(net, mean, std) bind(C, name='gn_net_output_scaling') &
            result(status)
            import :: c_ptr, c_int
            type(c_ptr), value :: net
            type(c_ptr), intent(out) :: mean, std
            integer(c_int) :: status
        end function gn_net_output_scaling

        function gn_net_set_dropout(net, p) bind(C, name='gn_net_set_dropout') result(status)
            import :: c_ptr, c_float, c_int
            type(c_ptr), value :: net
            real(c_float), value :: p
            integer(c_int) :: status
        end function gn_net_set_dropout

        function gn_net_dropout(net) bind(C, name='gn_net_dropout') result(p)
            import :: c_ptr, c_float
            type(c_ptr), value :: net
            real(c_float) :: p
        end function gn_net_dropout

        !---- Introspection and parameter access ----

        function gn_net_n_layers(net) bind(C, name='gn_net_n_layers') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t) :: n
        end function gn_net_n_layers

        function gn_net_layer_size(net, l) bind(C, name='gn_net_layer_size') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t), value :: l
            integer(c_size_t) :: n
        end function gn_net_layer_size

        function gn_net_layer_act(net, l) bind(C, name='gn_net_layer_act') result(act)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), value :: net
            integer(c_size_t), value :: l
            integer(c_int) :: act
        end function gn_net_layer_act

        function gn_net_loss(net) bind(C, name='gn_net_loss') result(loss)
            import :: c_ptr, c_int
            type(c_ptr), value :: net
            integer(c_int) :: loss
        end function gn_net_loss

        function gn_net_leaky_slope(net) bind(C, name='gn_net_leaky_slope') result(slope)
            import :: c_ptr, c_float
            type(c_ptr), value :: net
            real(c_float) :: slope
        end function gn_net_leaky_slope

        function gn_net_n_inputs(net) bind(C, name='gn_net_n_inputs') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t) :: n
        end function gn_net_n_inputs

        function gn_net_n_outputs(net) bind(C, name='gn_net_n_outputs') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t) :: n
        end function gn_net_n_outputs

        function gn_net_max_batch(net) bind(C, name='gn_net_max_batch') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t) :: n
        end function gn_net_max_batch

        function gn_net_n_params(net) bind(C, name='gn_net_n_params') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: net
            integer(c_size_t) :: n
        end function gn_net_n_params

        function gn_net_params(net) bind(C, name='gn_net_params') result(p)
            import :: c_ptr
            type(c_ptr), value :: net
            type(c_ptr) :: p
        end function gn_net_params

        function gn_net_grads(net) bind(C, name='gn_net_grads') result(p)
            import :: c_ptr
            type(c_ptr), value :: net
            type(c_ptr) :: p
        end function gn_net_grads

        function gn_net_set_reducer(net, r) bind(C, name='gn_net_set_reducer') result(status)
            import :: c_ptr, c_int, gn_reducer
            type(c_ptr), value :: net
            type(gn_reducer), intent(in) :: r
            integer(c_int) :: status
        end function gn_net_set_reducer

        !> The reducer set (a gn_reducer), or c_null_ptr.
        function gn_net_reducer(net) bind(C, name='gn_net_reducer') result(p)
            import :: c_ptr
            type(c_ptr), value :: net
            type(c_ptr) :: p
        end function gn_net_reducer

        !> The network's RNG state (a gn_rng) in place: c_f_pointer it to read or change it.
        function gn_net_rng(net) bind(C, name='gn_net_rng') result(p)
            import :: c_ptr
            type(c_ptr), value :: net
            type(c_ptr) :: p
        end function gn_net_rng

        function gn_net_layer_offsets(net, l, w_offset, b_offset) &
            bind(C, name='gn_net_layer_offsets') result(status)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), value :: net
            integer(c_size_t), value :: l
            integer(c_size_t), intent(out) :: w_offset, b_offset
            integer(c_int) :: status
        end function gn_net_layer_offsets

        !---- Compute ----

        function gn_net_forward(net, X, ldx, m, out) bind(C, name='gn_net_forward') &
            result(status)
            import :: c_ptr, c_float, c_size_t, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*)
            integer(c_size_t), value :: ldx, m
            type(c_ptr), intent(out) :: out
            integer(c_int) :: status
        end function gn_net_forward

        function gn_net_predict(net, X, ldx, n, Y, ldy) bind(C, name='gn_net_predict') &
            result(status)
            import :: c_ptr, c_float, c_size_t, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*)
            integer(c_size_t), value :: ldx, n, ldy
            real(c_float), intent(inout) :: Y(*)
            integer(c_int) :: status
        end function gn_net_predict

        function gn_net_predict_layout(net, layout, X, ldx, n, Y, ldy) &
            bind(C, name='gn_net_predict_layout') result(status)
            import :: c_ptr, c_float, c_size_t, c_int
            type(c_ptr), value :: net
            integer(c_int), value :: layout
            real(c_float), intent(in) :: X(*)
            integer(c_size_t), value :: ldx, n, ldy
            real(c_float), intent(inout) :: Y(*)
            integer(c_int) :: status
        end function gn_net_predict_layout

        function gn_net_backprop(net, X, ldx, Y, ldy, m, loss) bind(C, name='gn_net_backprop') &
            result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, m
            real(c_double), intent(out), optional :: loss
            integer(c_int) :: status
        end function gn_net_backprop

        function gn_net_train_step(net, X, ldx, Y, ldy, m, eta, loss) &
            bind(C, name='gn_net_train_step') result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, m
            real(c_float), value :: eta
            real(c_double), intent(out), optional :: loss
            integer(c_int) :: status
        end function gn_net_train_step

        function gn_net_evaluate(net, X, ldx, Y, ldy, n, loss, accuracy) &
            bind(C, name='gn_net_evaluate') result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, n
            real(c_double), intent(out), optional :: loss, accuracy
            integer(c_int) :: status
        end function gn_net_evaluate

        function gn_net_evaluate_layout(net, layout, X, ldx, Y, ldy, n, loss, accuracy) &
            bind(C, name='gn_net_evaluate_layout') result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: net
            integer(c_int), value :: layout
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, n
            real(c_double), intent(out), optional :: loss, accuracy
            integer(c_int) :: status
        end function gn_net_evaluate_layout

        !---- Sensitivities ----

        function gn_net_jvp(net, X, ldx, V, ldv, n, JV, ldjv) bind(C, name='gn_net_jvp') &
            result(status)
            import :: c_ptr, c_float, c_size_t, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), V(*)
            integer(c_size_t), value :: ldx, ldv, n, ldjv
            real(c_float), intent(inout) :: JV(*)
            integer(c_int) :: status
        end function gn_net_jvp

        function gn_net_vjp(net, X, ldx, U, ldu, n, G, ldg) bind(C, name='gn_net_vjp') &
            result(status)
            import :: c_ptr, c_float, c_size_t, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), U(*)
            integer(c_size_t), value :: ldx, ldu, n, ldg
            real(c_float), intent(inout) :: G(*)
            integer(c_int) :: status
        end function gn_net_vjp

        function gn_net_jacobian(net, X, ldx, n, J, ldj) bind(C, name='gn_net_jacobian') &
            result(status)
            import :: c_ptr, c_float, c_size_t, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*)
            integer(c_size_t), value :: ldx, n, ldj
            real(c_float), intent(inout) :: J(*)
            integer(c_int) :: status
        end function gn_net_jacobian

        function gn_net_jacobian_layout(net, layout, X, ldx, n, J, ldj) &
            bind(C, name='gn_net_jacobian_layout') result(status)
            import :: c_ptr, c_float, c_size_t, c_int
            type(c_ptr), value :: net
            integer(c_int), value :: layout
            real(c_float), intent(in) :: X(*)
            integer(c_size_t), value :: ldx, n, ldj
            real(c_float), intent(inout) :: J(*)
            integer(c_int) :: status
        end function gn_net_jacobian_layout

        function gn_net_input_gradient(net, X, ldx, Y, ldy, n, G, ldg, loss) &
            bind(C, name='gn_net_input_gradient') result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, n, ldg
            real(c_float), intent(inout) :: G(*)
            real(c_double), intent(out), optional :: loss
            integer(c_int) :: status
        end function gn_net_input_gradient

        !---- Nielsen's SGD loop ----

        subroutine gn_train_options_defaults(opt) bind(C, name='gn_train_options_defaults')
            import :: gn_train_options
            type(gn_train_options), intent(out) :: opt
        end subroutine gn_train_options_defaults

        function gn_net_train(net, X, ldx, Y, ldy, n, opt) bind(C, name='gn_net_train') &
            result(status)
            import :: c_ptr, c_float, c_size_t, gn_train_options, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, n
            type(gn_train_options), intent(in) :: opt
            integer(c_int) :: status
        end function gn_net_train

        !---- Random numbers ----

        subroutine gn_rng_seed(rng, seed) bind(C, name='gn_rng_seed')
            import :: gn_rng, c_int64_t
            type(gn_rng), intent(out) :: rng
            integer(c_int64_t), value :: seed
        end subroutine gn_rng_seed

        function gn_rng_next(rng) bind(C, name='gn_rng_next') result(r)
            import :: gn_rng, c_int64_t
            type(gn_rng), intent(inout) :: rng
            integer(c_int64_t) :: r
        end function gn_rng_next

        function gn_rng_uniform(rng) bind(C, name='gn_rng_uniform') result(r)
            import :: gn_rng, c_double
            type(gn_rng), intent(inout) :: rng
            real(c_double) :: r
        end function gn_rng_uniform

        function gn_rng_below(rng, bound) bind(C, name='gn_rng_below') result(r)
            import :: gn_rng, c_int64_t
            type(gn_rng), intent(inout) :: rng
            integer(c_int64_t), value :: bound
            integer(c_int64_t) :: r
        end function gn_rng_below

        function gn_rng_normal(rng) bind(C, name='gn_rng_normal') result(r)
            import :: gn_rng, c_double
            type(gn_rng), intent(inout) :: rng
            real(c_double) :: r
        end function gn_rng_normal

        !---- Datasets ----
        ! gn_dataset_wrap* keep X and Y until gn_dataset_free: pass c_loc of arrays with the
        ! target attribute that stay alive and unchanged that long.

        function gn_dataset_wrap(out, X, ldx, Y, ldy, n_features, n_outputs, n) &
            bind(C, name='gn_dataset_wrap') result(status)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            type(c_ptr), value :: X, Y
            integer(c_size_t), value :: ldx, ldy, n_features, n_outputs, n
            integer(c_int) :: status
        end function gn_dataset_wrap

        function gn_dataset_wrap_layout(out, layout, X, ldx, Y, ldy, n_features, n_outputs, n) &
            bind(C, name='gn_dataset_wrap_layout') result(status)
            import :: c_ptr, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            integer(c_int), value :: layout
            type(c_ptr), value :: X, Y
            integer(c_size_t), value :: ldx, ldy, n_features, n_outputs, n
            integer(c_int) :: status
        end function gn_dataset_wrap_layout

        function gn_dataset_layout(ds) bind(C, name='gn_dataset_layout') result(layout)
            import :: c_ptr, c_int
            type(c_ptr), value :: ds
            integer(c_int) :: layout
        end function gn_dataset_layout

        function gn_dataset_load_idx(out, images_path, labels_path, n_classes, err, errlen) &
            bind(C, name='gn_dataset_load_idx') result(status)
            import :: c_ptr, c_char, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            character(kind=c_char), intent(in) :: images_path(*)
            character(kind=c_char), intent(in), optional :: labels_path(*)
            integer(c_size_t), value :: n_classes, errlen
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_int) :: status
        end function gn_dataset_load_idx

        subroutine gn_csv_options_defaults(opt) bind(C, name='gn_csv_options_defaults')
            import :: gn_csv_options
            type(gn_csv_options), intent(out) :: opt
        end subroutine gn_csv_options_defaults

        function gn_dataset_load_csv(out, path, opt, err, errlen) &
            bind(C, name='gn_dataset_load_csv') result(status)
            import :: c_ptr, c_char, gn_csv_options, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            character(kind=c_char), intent(in) :: path(*)
            type(gn_csv_options), intent(in), optional :: opt
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_dataset_load_csv

        subroutine gn_array_options_defaults(opt) bind(C, name='gn_array_options_defaults')
            import :: gn_array_options
            type(gn_array_options), intent(out) :: opt
        end subroutine gn_array_options_defaults

        function gn_dataset_load_npy(out, x_path, y_path, opt, err, errlen) &
            bind(C, name='gn_dataset_load_npy') result(status)
            import :: c_ptr, c_char, gn_array_options, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            character(kind=c_char), intent(in) :: x_path(*)
            character(kind=c_char), intent(in), optional :: y_path(*)
            type(gn_array_options), intent(in), optional :: opt
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_dataset_load_npy

        function gn_dataset_load_hdf5(out, path, x_name, y_name, opt, err, errlen) &
            bind(C, name='gn_dataset_load_hdf5') result(status)
            import :: c_ptr, c_char, gn_array_options, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            character(kind=c_char), intent(in) :: path(*), x_name(*)
            character(kind=c_char), intent(in), optional :: y_name(*)
            type(gn_array_options), intent(in), optional :: opt
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_dataset_load_hdf5

        function gn_hdf5_available() bind(C, name='gn_hdf5_available') result(yes)
            import :: c_int
            integer(c_int) :: yes
        end function gn_hdf5_available

        subroutine gn_dataset_free(ds) bind(C, name='gn_dataset_free')
            import :: c_ptr
            type(c_ptr), value :: ds
        end subroutine gn_dataset_free

        function gn_dataset_n_samples(ds) bind(C, name='gn_dataset_n_samples') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: ds
            integer(c_size_t) :: n
        end function gn_dataset_n_samples

        function gn_dataset_n_features(ds) bind(C, name='gn_dataset_n_features') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: ds
            integer(c_size_t) :: n
        end function gn_dataset_n_features

        function gn_dataset_n_outputs(ds) bind(C, name='gn_dataset_n_outputs') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: ds
            integer(c_size_t) :: n
        end function gn_dataset_n_outputs

        function gn_dataset_x(ds) bind(C, name='gn_dataset_x') result(p)
            import :: c_ptr
            type(c_ptr), value :: ds
            type(c_ptr) :: p
        end function gn_dataset_x

        function gn_dataset_y(ds) bind(C, name='gn_dataset_y') result(p)
            import :: c_ptr
            type(c_ptr), value :: ds
            type(c_ptr) :: p
        end function gn_dataset_y

        function gn_dataset_ldx(ds) bind(C, name='gn_dataset_ldx') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: ds
            integer(c_size_t) :: n
        end function gn_dataset_ldx

        function gn_dataset_ldy(ds) bind(C, name='gn_dataset_ldy') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: ds
            integer(c_size_t) :: n
        end function gn_dataset_ldy

        function gn_dataset_mean_std(ds, y_part, mean, std) bind(C, name='gn_dataset_mean_std') &
            result(status)
            import :: c_ptr, c_int, c_float
            type(c_ptr), value :: ds
            integer(c_int), value :: y_part
            real(c_float), intent(inout) :: mean(*), std(*)
            integer(c_int) :: status
        end function gn_dataset_mean_std

        function gn_dataset_split(ds, frac, seed, first, second) bind(C, name='gn_dataset_split') &
            result(status)
            import :: c_ptr, c_double, c_int64_t, c_int
            type(c_ptr), value :: ds
            real(c_double), value :: frac
            integer(c_int64_t), value :: seed
            type(c_ptr), intent(out) :: first, second
            integer(c_int) :: status
        end function gn_dataset_split

        !---- Optimizers ----

        subroutine gn_optimizer_config_defaults(cfg, kind) &
            bind(C, name='gn_optimizer_config_defaults')
            import :: gn_optimizer_config, c_int
            type(gn_optimizer_config), intent(out) :: cfg
            integer(c_int), value :: kind
        end subroutine gn_optimizer_config_defaults

        function gn_optimizer_create(out, net, cfg, err, errlen) &
            bind(C, name='gn_optimizer_create') result(status)
            import :: c_ptr, gn_optimizer_config, c_char, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            type(c_ptr), value :: net
            type(gn_optimizer_config), intent(in) :: cfg
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_optimizer_create

        subroutine gn_optimizer_free(opt) bind(C, name='gn_optimizer_free')
            import :: c_ptr
            type(c_ptr), value :: opt
        end subroutine gn_optimizer_free

        function gn_optimizer_set_lr(opt, lr) bind(C, name='gn_optimizer_set_lr') result(status)
            import :: c_ptr, c_float, c_int
            type(c_ptr), value :: opt
            real(c_float), value :: lr
            integer(c_int) :: status
        end function gn_optimizer_set_lr

        function gn_optimizer_lr(opt) bind(C, name='gn_optimizer_lr') result(lr)
            import :: c_ptr, c_float
            type(c_ptr), value :: opt
            real(c_float) :: lr
        end function gn_optimizer_lr

        function gn_optimizer_steps(opt) bind(C, name='gn_optimizer_steps') result(t)
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: opt
            integer(c_int64_t) :: t
        end function gn_optimizer_steps

        function gn_optimizer_get_config(opt, cfg) bind(C, name='gn_optimizer_get_config') &
            result(status)
            import :: c_ptr, gn_optimizer_config, c_int
            type(c_ptr), value :: opt
            type(gn_optimizer_config), intent(out) :: cfg
            integer(c_int) :: status
        end function gn_optimizer_get_config

        function gn_optimizer_apply(opt, net) bind(C, name='gn_optimizer_apply') result(status)
            import :: c_ptr, c_int
            type(c_ptr), value :: opt, net
            integer(c_int) :: status
        end function gn_optimizer_apply

        function gn_optimizer_step(opt, net, X, ldx, Y, ldy, m, loss) &
            bind(C, name='gn_optimizer_step') result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: opt, net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, m
            real(c_double), intent(out), optional :: loss
            integer(c_int) :: status
        end function gn_optimizer_step

        !---- Fitting ----

        subroutine gn_fit_options_defaults(opt) bind(C, name='gn_fit_options_defaults')
            import :: gn_fit_options
            type(gn_fit_options), intent(out) :: opt
        end subroutine gn_fit_options_defaults

        function gn_net_fit(net, train, val, opt, result) bind(C, name='gn_net_fit') &
            result(status)
            import :: c_ptr, gn_fit_options, gn_fit_result, c_int
            type(c_ptr), value :: net, train, val
            type(gn_fit_options), intent(in) :: opt
            type(gn_fit_result), intent(out), optional :: result
            integer(c_int) :: status
        end function gn_net_fit

        !---- Metrics ----

        function gn_net_confusion(net, X, ldx, Y, ldy, n, k, counts) &
            bind(C, name='gn_net_confusion') result(status)
            import :: c_ptr, c_float, c_size_t, c_int64_t, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, n, k
            integer(c_int64_t), intent(inout) :: counts(*)
            integer(c_int) :: status
        end function gn_net_confusion

        function gn_class_metrics(counts, k, precision, recall) bind(C, name='gn_class_metrics') &
            result(accuracy)
            import :: c_int64_t, c_size_t, c_double
            integer(c_int64_t), intent(in) :: counts(*)
            integer(c_size_t), value :: k
            real(c_double), intent(inout), optional :: precision(*), recall(*)
            real(c_double) :: accuracy
        end function gn_class_metrics

        function gn_net_regression_metrics(net, X, ldx, Y, ldy, n, mse, mae, r2) &
            bind(C, name='gn_net_regression_metrics') result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, n
            real(c_double), intent(out), optional :: mse, mae, r2
            integer(c_int) :: status
        end function gn_net_regression_metrics

        !---- Model files and checkpoints ----

        function gn_net_save(net, path, err, errlen) bind(C, name='gn_net_save') result(status)
            import :: c_ptr, c_char, c_size_t, c_int
            type(c_ptr), value :: net
            character(kind=c_char), intent(in) :: path(*)
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_net_save

        function gn_net_load(out, path, err, errlen) bind(C, name='gn_net_load') result(status)
            import :: c_ptr, c_char, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            character(kind=c_char), intent(in) :: path(*)
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_net_load

        function gn_net_load_buffer(out, buf, len, err, errlen) &
            bind(C, name='gn_net_load_buffer') result(status)
            import :: c_ptr, c_size_t, c_char, c_int
            type(c_ptr), intent(out) :: out
            type(c_ptr), value :: buf
            integer(c_size_t), value :: len, errlen
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_int) :: status
        end function gn_net_load_buffer

        function gn_checkpoint_save(net, opt, progress, meta, path, err, errlen) &
            bind(C, name='gn_checkpoint_save') result(status)
            import :: c_ptr, gn_fit_progress, c_char, c_size_t, c_int
            type(c_ptr), value :: net, opt
            type(gn_fit_progress), intent(in), optional :: progress
            character(kind=c_char), intent(in), optional :: meta(*)
            character(kind=c_char), intent(in) :: path(*)
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_checkpoint_save

        function gn_checkpoint_load(out, path, err, errlen) bind(C, name='gn_checkpoint_load') &
            result(status)
            import :: c_ptr, c_char, c_size_t, c_int
            type(c_ptr), intent(out) :: out
            character(kind=c_char), intent(in) :: path(*)
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_size_t), value :: errlen
            integer(c_int) :: status
        end function gn_checkpoint_load

        function gn_checkpoint_load_buffer(out, buf, len, err, errlen) &
            bind(C, name='gn_checkpoint_load_buffer') result(status)
            import :: c_ptr, c_size_t, c_char, c_int
            type(c_ptr), intent(out) :: out
            type(c_ptr), value :: buf
            integer(c_size_t), value :: len, errlen
            character(kind=c_char), intent(out), optional :: err(*)
            integer(c_int) :: status
        end function gn_checkpoint_load_buffer

        subroutine gn_checkpoint_free(ck) bind(C, name='gn_checkpoint_free')
            import :: c_ptr
            type(c_ptr), value :: ck
        end subroutine gn_checkpoint_free

        function gn_checkpoint_net(ck) bind(C, name='gn_checkpoint_net') result(net)
            import :: c_ptr
            type(c_ptr), value :: ck
            type(c_ptr) :: net
        end function gn_checkpoint_net

        function gn_checkpoint_take_net(ck) bind(C, name='gn_checkpoint_take_net') result(net)
            import :: c_ptr
            type(c_ptr), value :: ck
            type(c_ptr) :: net
        end function gn_checkpoint_take_net

        function gn_checkpoint_take_optimizer(ck) bind(C, name='gn_checkpoint_take_optimizer') &
            result(opt)
            import :: c_ptr
            type(c_ptr), value :: ck
            type(c_ptr) :: opt
        end function gn_checkpoint_take_optimizer

        function gn_checkpoint_progress(ck, out) bind(C, name='gn_checkpoint_progress') &
            result(has)
            import :: c_ptr, gn_fit_progress, c_int
            type(c_ptr), value :: ck
            type(gn_fit_progress), intent(out) :: out
            integer(c_int) :: has
        end function gn_checkpoint_progress

        function gn_checkpoint_meta(ck) bind(C, name='gn_checkpoint_meta') result(s)
            import :: c_ptr
            type(c_ptr), value :: ck
            type(c_ptr) :: s
        end function gn_checkpoint_meta

        function gn_checkpoint_meta_get(ck, key, buf, len) bind(C, name='gn_checkpoint_meta_get') &
            result(length)
            import :: c_ptr, c_char, c_size_t, c_long
            type(c_ptr), value :: ck
            character(kind=c_char), intent(in) :: key(*)
            character(kind=c_char), intent(out), optional :: buf(*)
            integer(c_size_t), value :: len
            integer(c_long) :: length
        end function gn_checkpoint_meta_get

        function gn_checkpoint_get_info(ck, info) bind(C, name='gn_checkpoint_get_info') &
            result(status)
            import :: c_ptr, gn_checkpoint_info, c_int
            type(c_ptr), value :: ck
            type(gn_checkpoint_info), intent(out) :: info
            integer(c_int) :: status
        end function gn_checkpoint_get_info

        !---- Linear algebra ----

        function gn_fit_output_lstsq(net, X, ldx, Y, ldy, n, lambda, rmse) &
            bind(C, name='gn_fit_output_lstsq') result(status)
            import :: c_ptr, c_float, c_size_t, c_double, c_int
            type(c_ptr), value :: net
            real(c_float), intent(in) :: X(*), Y(*)
            integer(c_size_t), value :: ldx, ldy, n
            real(c_float), value :: lambda
            real(c_double), intent(out), optional :: rmse
            integer(c_int) :: status
        end function gn_fit_output_lstsq

        function gn_net_layer_singular_values(net, l, s) &
            bind(C, name='gn_net_layer_singular_values') result(status)
            import :: c_ptr, c_size_t, c_float, c_int
            type(c_ptr), value :: net
            integer(c_size_t), value :: l
            real(c_float), intent(inout) :: s(*)
            integer(c_int) :: status
        end function gn_net_layer_singular_values

        !---- BLAS information ----

        function gn_blas_get_info(info) bind(C, name='gn_blas_get_info') result(status)
            import :: gn_blas_info, c_int
            type(gn_blas_info), intent(out) :: info
            integer(c_int) :: status
        end function gn_blas_get_info

        function gn_blas_describe(buf, len) bind(C, name='gn_blas_describe') result(length)
            import :: c_char, c_size_t
            character(kind=c_char), intent(out), optional :: buf(*)
            integer(c_size_t), value :: len
            integer(c_size_t) :: length
        end function gn_blas_describe

        function gn_blas_parallel_name(parallel) bind(C, name='gn_blas_parallel_name') result(s)
            import :: c_int, c_ptr
            integer(c_int), value :: parallel
            type(c_ptr) :: s
        end function gn_blas_parallel_name
    end interface

contains

    !==== Strings ===============================================================================

    !> A NUL-terminated C string as a Fortran string ('' for a NULL pointer). The C string is
    !> copied; it is only read during the call.
    function c_string(p) result(s)
        type(c_ptr), intent(in) :: p
        character(len=:), allocatable :: s
        character(kind=c_char), pointer :: chars(:)
        integer(c_size_t) :: n, i

        if (.not. c_associated(p)) then
            s = ''
            return
        end if
        n = c_strlen(p)
        allocate (character(len=n) :: s)
        if (n == 0) return
        call c_f_pointer(p, chars, [n])
        do i = 1, n
            s(i:i) = chars(i)
        end do
    end function c_string

    !> The characters of buf up to its first NUL (all of them if there is none).
    function c_chars_to_string(buf) result(s)
        character(kind=c_char), intent(in) :: buf(:)
        character(len=:), allocatable :: s
        integer :: n, i

        n = size(buf)
        do i = 1, size(buf)
            if (buf(i) == c_null_char) then
                n = i - 1
                exit
            end if
        end do
        allocate (character(len=n) :: s)
        do i = 1, n
            s(i:i) = buf(i)
        end do
    end function c_chars_to_string

    !> The version of the library actually linked, "MAJOR.MINOR.PATCH" (compare with
    !> GN_VERSION_STRING to detect bindings written for another version). Thread-safe.
    function gn_version() result(s)
        character(len=:), allocatable :: s

        s = c_string(gn_version_c())
    end function gn_version

    !> A short English description of a status code (never empty; unknown codes give
    !> "unknown status"). Thread-safe.
    function gn_strerror(status) result(s)
        integer(c_int), intent(in) :: status
        character(len=:), allocatable :: s

        s = c_string(gn_strerror_c(status))
    end function gn_strerror

    !> The library's message about the last failed call on net ('' if none failed, or for a
    !> network that is not associated). Copied: later calls do not change the result.
    function gn_error_message(net) result(s)
        type(c_ptr), intent(in) :: net
        character(len=:), allocatable :: s

        s = c_string(gn_net_last_error(net))
    end function gn_error_message

    !==== Error reporting of the wrappers =======================================================
    ! Each wrapper builds its message in a local string and copies it to its optional errmsg
    ! once, at the end: handing an optional deferred-length dummy on to another procedure
    ! loses its length with gfortran 12.

    !> After a library call on net: '' on success, else the network's message, or the
    !> status's description if the library left none.
    subroutine library_status(net, status, msg)
        type(c_ptr), intent(in) :: net
        integer(c_int), intent(in) :: status
        character(len=:), allocatable, intent(inout) :: msg

        if (status == GN_OK) then
            msg = ''
        else
            msg = gn_error_message(net)
            if (len(msg) == 0) msg = gn_strerror(status)
        end if
    end subroutine library_status

    logical function check_net(net, where, status, msg) result(ok)
        type(c_ptr), intent(in) :: net
        character(len=*), intent(in) :: where
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(inout) :: msg

        ok = c_associated(net)
        status = GN_OK
        if (.not. ok) then
            status = GN_ERR_NULL
            msg = where//': the network is not associated (create or load one)'
        end if
    end function check_net

    logical function check_layout(layout, where, status, msg) result(ok)
        integer(c_int), intent(in) :: layout
        character(len=*), intent(in) :: where
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(inout) :: msg
        character(len=160) :: text

        ok = layout == GN_SAMPLES_IN_COLUMNS .or. layout == GN_SAMPLES_IN_ROWS
        status = GN_OK
        if (.not. ok) then
            status = GN_ERR_ARG
            write (text, '(a,": layout ",i0," is neither GN_SAMPLES_IN_COLUMNS nor ",a)') &
                where, layout, 'GN_SAMPLES_IN_ROWS'
            msg = trim(text)
        end if
    end function check_layout

    !> Features per sample of a matrix held in layout (its rows for columns, else its columns).
    pure integer(c_size_t) function features_of(a, layout) result(n)
        real(c_float), intent(in) :: a(:, :)
        integer(c_int), intent(in) :: layout

        if (layout == GN_SAMPLES_IN_ROWS) then
            n = size(a, 2, kind=c_size_t)
        else
            n = size(a, 1, kind=c_size_t)
        end if
    end function features_of

    pure integer(c_size_t) function samples_of(a, layout) result(n)
        real(c_float), intent(in) :: a(:, :)
        integer(c_int), intent(in) :: layout

        if (layout == GN_SAMPLES_IN_ROWS) then
            n = size(a, 1, kind=c_size_t)
        else
            n = size(a, 2, kind=c_size_t)
        end if
    end function samples_of

    !> Checks that the matrix `name` holds `features` values per sample and `n` samples in
    !> layout; else GN_ERR_DIM and a message giving the shape found and the shape expected.
    logical function check_matrix(a, layout, features, n, name, what, where, status, msg) &
        result(ok)
        real(c_float), intent(in) :: a(:, :)
        integer(c_int), intent(in) :: layout
        integer(c_size_t), intent(in) :: features, n
        character(len=*), intent(in) :: name, what, where
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(inout) :: msg
        character(len=320) :: text

        ok = features_of(a, layout) == features .and. samples_of(a, layout) == n
        status = GN_OK
        if (ok) return
        status = GN_ERR_DIM
        if (layout == GN_SAMPLES_IN_ROWS) then
            write (text, '(a,": ",a," is ",i0," x ",i0,", expected ",i0," x ",i0, &
                &" (samples x ",a,", GN_SAMPLES_IN_ROWS)")') where, name, size(a, 1), &
                size(a, 2), n, features, what
        else
            write (text, '(a,": ",a," is ",i0," x ",i0,", expected ",i0," x ",i0, &
                &" (",a," x samples)")') where, name, size(a, 1), size(a, 2), features, n, what
        end if
        msg = trim(text)
    end function check_matrix

    !> Checks x (inputs) and y (outputs, or targets) against net in layout; n gets the number
    !> of samples.
    logical function check_xy(net, layout, x, y, yname, where, n, status, msg) result(ok)
        type(c_ptr), intent(in) :: net
        integer(c_int), intent(in) :: layout
        real(c_float), intent(in) :: x(:, :), y(:, :)
        character(len=*), intent(in) :: yname, where
        integer(c_size_t), intent(out) :: n
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(inout) :: msg

        n = 0
        ok = check_net(net, where, status, msg)
        if (ok) ok = check_layout(layout, where, status, msg)
        if (.not. ok) return
        n = samples_of(x, layout)
        ok = check_matrix(x, layout, gn_net_n_inputs(net), n, 'x', 'inputs', where, status, msg)
        if (ok) ok = check_matrix(y, layout, gn_net_n_outputs(net), n, yname, 'outputs', where, &
                                  status, msg)
    end function check_xy

    !==== Lifecycle =============================================================================

    !> Creates a network with layer sizes sizes(1) (inputs), …, sizes(L+1) (outputs), the
    !> activation hidden_act on the hidden layers and output_act on the output layer, the given
    !> loss and seed, and a workspace for max_batch samples; every other setting is the
    !> default of gn_net_config_defaults. On success net owns a new network (gn_free it); on
    !> failure net is c_null_ptr.
    !> status: GN_OK, or as gn_net_create: GN_ERR_ARG (fewer than 2 sizes, a size < 1 or above
    !> GN_MAX_WIDTH, max_batch < 1, an unknown enum, softmax on a hidden layer, …),
    !> GN_ERR_UNSUPPORTED, GN_ERR_NOMEM; errmsg explains (from gn_net_config_check).
    !> Thread-safe.
    subroutine gn_create(net, sizes, hidden_act, output_act, loss, seed, max_batch, status, errmsg)
        type(c_ptr), intent(out) :: net
        integer, intent(in) :: sizes(:)
        integer(c_int), intent(in) :: hidden_act, output_act, loss
        class(*), intent(in) :: seed ! an integer of any kind: 7, 7_c_int64_t, …
        integer, intent(in) :: max_batch
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        type(gn_net_config) :: cfg
        character(len=:), allocatable :: m

        net = c_null_ptr
        call gn_net_config_defaults(cfg)
        cfg%hidden_act = hidden_act
        cfg%output_act = output_act
        cfg%loss = loss
        select type (seed)
        type is (integer(int8))
            cfg%seed = int(seed, c_int64_t)
        type is (integer(int16))
            cfg%seed = int(seed, c_int64_t)
        type is (integer(int32))
            cfg%seed = int(seed, c_int64_t)
        type is (integer(int64))
            cfg%seed = seed
        class default
            status = GN_ERR_ARG
            m = 'gn_create: seed must be an integer'
            if (present(errmsg)) errmsg = m
            return
        end select
        if (max_batch < 1) then
            status = GN_ERR_ARG
            m = 'gn_create: max_batch must be at least 1'
        else
            cfg%max_batch = int(max_batch, c_size_t)
            call gn_create_config(net, cfg, sizes, status, errmsg=m)
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_create

    !> gn_create from a full configuration (fill it with gn_net_config_defaults first): cfg's
    !> n_sizes, sizes and acts members are ignored and replaced by sizes and, if present, acts
    !> (one activation per layer, size(sizes) − 1 of them; absent: cfg%hidden_act and
    !> cfg%output_act). Same statuses as gn_create, plus GN_ERR_DIM when acts has the wrong
    !> length. Thread-safe.
    subroutine gn_create_config(net, cfg, sizes, status, acts, errmsg)
        type(c_ptr), intent(out) :: net
        type(gn_net_config), intent(in) :: cfg
        integer, intent(in) :: sizes(:)
        integer(c_int), intent(out) :: status
        integer(c_int), intent(in), optional :: acts(:)
        character(len=:), allocatable, intent(out), optional :: errmsg
        type(gn_net_config) :: c
        integer(c_size_t), allocatable, target :: csizes(:)
        integer(c_int), allocatable, target :: cacts(:)
        character(kind=c_char) :: err(LIBRARY_ERRLEN)
        character(len=160) :: text
        character(len=:), allocatable :: m
        integer :: i

        net = c_null_ptr
        status = GN_OK
        m = ''
        do i = 1, size(sizes)
            if (sizes(i) < 1) then
                status = GN_ERR_ARG
                write (text, '("gn_create: sizes(",i0,") = ",i0," is not a positive width")') &
                    i, sizes(i)
                m = trim(text)
                exit
            end if
        end do
        if (status == GN_OK .and. present(acts)) then
            if (size(acts) /= size(sizes) - 1) then
                status = GN_ERR_DIM
                write (text, '("gn_create: ",i0," activations for ",i0," layers")') &
                    size(acts), size(sizes) - 1
                m = trim(text)
            end if
        end if
        if (status == GN_OK) then
            ! Copies with the target attribute (one element at least, so c_loc is valid); the
            ! library reads them during gn_net_create only.
            allocate (csizes(max(1, size(sizes))), cacts(max(1, size(sizes) - 1)))
            csizes = 0
            cacts = 0
            csizes(1:size(sizes)) = int(sizes, c_size_t)
            c = cfg
            c%n_sizes = size(sizes, kind=c_size_t)
            c%sizes = c_loc(csizes)
            c%acts = c_null_ptr
            if (present(acts)) then
                if (size(acts) > 0) cacts(1:size(acts)) = acts
                c%acts = c_loc(cacts)
            end if
            status = gn_net_create(net, c)
            if (status /= GN_OK) then
                ! No network to keep a message: gn_net_config_check explains the configuration.
                err = c_null_char
                if (gn_net_config_check(c, err, int(size(err), c_size_t)) /= GN_OK) then
                    m = 'gn_create: '//c_chars_to_string(err)
                else
                    m = 'gn_create: '//gn_strerror(status)
                end if
            end if
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_create_config

    !> Frees the network and sets net to c_null_ptr. A network that is not associated is left
    !> alone.
    subroutine gn_free(net)
        type(c_ptr), intent(inout) :: net

        call gn_net_free(net)
        net = c_null_ptr
    end subroutine gn_free

    !> The parameter buffer of net as a Fortran pointer to its gn_net_n_params floats (layout
    !> in the header's CONVENTIONS), owned by the network and valid until it is freed; writing
    !> through it changes the model. Not associated for a network that is not associated.
    function gn_params(net) result(p)
        type(c_ptr), intent(in) :: net
        real(c_float), pointer :: p(:)

        p => null()
        if (.not. c_associated(net)) return
        call c_f_pointer(gn_net_params(net), p, [gn_net_n_params(net)])
    end function gn_params

    !==== Inference =============================================================================

    !> Predictions of net for the samples of x, written to y, in the given layout (default
    !> GN_SAMPLES_IN_COLUMNS): x(n_inputs, n) and y(n_outputs, n), or with GN_SAMPLES_IN_ROWS
    !> x(n, n_inputs) and y(n, n_outputs); both read and written in place. y must not overlap
    !> x. status: GN_OK, GN_ERR_NULL (net not associated), GN_ERR_ARG (unknown layout),
    !> GN_ERR_DIM (extents that do not match the network or each other, n = 0); y is unchanged
    !> on failure. Not thread-safe on one network.
    subroutine gn_predict(net, x, y, status, layout, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :)
        real(c_float), intent(inout), contiguous :: y(:, :)
        integer(c_int), intent(out) :: status
        integer(c_int), intent(in), optional :: layout
        character(len=:), allocatable, intent(out), optional :: errmsg
        integer(c_int) :: lay
        integer(c_size_t) :: n
        character(len=:), allocatable :: m

        m = ''
        lay = GN_SAMPLES_IN_COLUMNS
        if (present(layout)) lay = layout
        if (check_xy(net, lay, x, y, 'y', 'gn_predict', n, status, m)) then
            status = gn_net_predict_layout(net, lay, x, size(x, 1, kind=c_size_t), n, y, &
                                           size(y, 1, kind=c_size_t))
            call library_status(net, status, m)
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_predict

    !> Mean loss and accuracy of net on x and targets y (shapes and layout as gn_predict); see
    !> gn_net_evaluate for the accuracy rule. loss and accuracy are optional outputs.
    !> status: as gn_predict. Not thread-safe on one network.
    subroutine gn_evaluate(net, x, y, status, loss, accuracy, layout, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :), y(:, :)
        integer(c_int), intent(out) :: status
        real(c_double), intent(out), optional :: loss, accuracy
        integer(c_int), intent(in), optional :: layout
        character(len=:), allocatable, intent(out), optional :: errmsg
        integer(c_int) :: lay
        integer(c_size_t) :: n
        character(len=:), allocatable :: m

        m = ''
        lay = GN_SAMPLES_IN_COLUMNS
        if (present(layout)) lay = layout
        if (check_xy(net, lay, x, y, 'y', 'gn_evaluate', n, status, m)) then
            status = gn_net_evaluate_layout(net, lay, x, size(x, 1, kind=c_size_t), y, &
                                            size(y, 1, kind=c_size_t), n, loss, accuracy)
            call library_status(net, status, m)
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_evaluate

    !==== Training ==============================================================================

    !> Nielsen's SGD (gn_net_train) on x(n_inputs, n) and y(n_outputs, n), samples in columns,
    !> with options from gn_train_options_defaults. status: GN_OK, GN_ERR_NULL, GN_ERR_DIM
    !> (extents), and gn_net_train's statuses. Not thread-safe on one network.
    subroutine gn_train(net, x, y, options, status, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :), y(:, :)
        type(gn_train_options), intent(in) :: options
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        integer(c_size_t) :: n
        character(len=:), allocatable :: m

        m = ''
        if (check_xy(net, GN_SAMPLES_IN_COLUMNS, x, y, 'y', 'gn_train', n, status, m)) then
            status = gn_net_train(net, x, size(x, 1, kind=c_size_t), y, &
                                  size(y, 1, kind=c_size_t), n, options)
            call library_status(net, status, m)
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_train

    !> The full training loop (gn_net_fit) on the training set x, y and, if x_val and y_val are
    !> both present, a validation set, all in the given layout (default
    !> GN_SAMPLES_IN_COLUMNS: x(n_inputs, n), y(n_outputs, n); GN_SAMPLES_IN_ROWS: x(n,
    !> n_inputs), y(n, n_outputs)). The arrays are wrapped as datasets for the duration of the
    !> call (gn_dataset_wrap_layout), never copied or modified. options come from
    !> gn_fit_options_defaults; result is filled as gn_net_fit fills it (zeros if the wrapper
    !> refuses the arguments).
    !> status: GN_OK, GN_ERR_NULL (net not associated), GN_ERR_ARG (unknown layout, only one
    !> of x_val and y_val), GN_ERR_DIM (y or y_val has a different number of samples than x
    !> or x_val, an empty array, sizes that do not match the network), GN_ERR_NOMEM, and every
    !> status of gn_net_fit. Not thread-safe on one network.
    subroutine gn_fit(net, x, y, options, result, status, layout, x_val, y_val, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous, target :: x(:, :), y(:, :)
        type(gn_fit_options), intent(in) :: options
        type(gn_fit_result), intent(out) :: result
        integer(c_int), intent(out) :: status
        integer(c_int), intent(in), optional :: layout
        real(c_float), intent(in), contiguous, target, optional :: x_val(:, :), y_val(:, :)
        character(len=:), allocatable, intent(out), optional :: errmsg
        character(len=*), parameter :: where = 'gn_fit'
        integer(c_int) :: lay
        type(c_ptr) :: train, val
        character(len=:), allocatable :: m

        m = ''
        result = gn_fit_result(0_c_size_t, 0_c_size_t, 0.0_c_double, 0.0_c_double, &
                               0.0_c_double, 0_c_size_t, 0_c_int)
        lay = GN_SAMPLES_IN_COLUMNS
        if (present(layout)) lay = layout
        train = c_null_ptr
        val = c_null_ptr
        run: block
            if (.not. check_net(net, where, status, m)) exit run
            if (.not. check_layout(lay, where, status, m)) exit run
            if (present(x_val) .neqv. present(y_val)) then
                status = GN_ERR_ARG
                m = where//': x_val and y_val go together'
                exit run
            end if
            call wrap(x, y, 'x', 'y', train)
            if (status /= GN_OK) exit run
            if (present(x_val)) then
                call wrap(x_val, y_val, 'x_val', 'y_val', val)
                if (status /= GN_OK) exit run
            end if
            status = gn_net_fit(net, train, val, options, result)
            call library_status(net, status, m)
        end block run
        call gn_dataset_free(val)
        call gn_dataset_free(train)
        if (present(errmsg)) errmsg = m

    contains

        subroutine wrap(a, b, aname, bname, ds)
            real(c_float), intent(in), contiguous, target :: a(:, :), b(:, :)
            character(len=*), intent(in) :: aname, bname
            type(c_ptr), intent(out) :: ds
            integer(c_size_t) :: n

            ds = c_null_ptr
            n = samples_of(a, lay)
            if (size(a) == 0 .or. size(b) == 0) then
                status = GN_ERR_DIM
                m = where//': '//aname//' or '//bname//' is empty'
                return
            end if
            if (.not. check_matrix(b, lay, features_of(b, lay), n, bname, 'outputs', where, &
                                   status, m)) return
            status = gn_dataset_wrap_layout(ds, lay, c_loc(a), size(a, 1, kind=c_size_t), &
                                            c_loc(b), size(b, 1, kind=c_size_t), &
                                            features_of(a, lay), features_of(b, lay), n)
            if (status /= GN_OK) m = where//': cannot wrap '//aname//' and '//bname// &
                                     ' as a dataset: '//gn_strerror(status)
        end subroutine wrap
    end subroutine gn_fit

    !> Least-squares readout (gn_fit_output_lstsq): replaces the output layer by the ridge
    !> solution with penalty lambda on x(n_inputs, n) and y(n_outputs, n), samples in columns.
    !> rmse (optional) gets the root mean squared residual afterwards, in raw output units.
    !> status: GN_OK, GN_ERR_NULL, GN_ERR_DIM (extents), and gn_fit_output_lstsq's statuses.
    !> Not thread-safe on one network.
    subroutine gn_fit_lstsq(net, x, y, lambda, status, rmse, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :), y(:, :)
        real(c_float), intent(in) :: lambda
        integer(c_int), intent(out) :: status
        real(c_double), intent(out), optional :: rmse
        character(len=:), allocatable, intent(out), optional :: errmsg
        integer(c_size_t) :: n
        character(len=:), allocatable :: m

        m = ''
        if (check_xy(net, GN_SAMPLES_IN_COLUMNS, x, y, 'y', 'gn_fit_lstsq', n, status, m)) then
            status = gn_fit_output_lstsq(net, x, size(x, 1, kind=c_size_t), y, &
                                         size(y, 1, kind=c_size_t), n, lambda, rmse)
            call library_status(net, status, m)
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_fit_lstsq

    !==== Sensitivities =========================================================================
    ! The model differentiated is the one gn_predict applies (raw units, no dropout). Inputs
    ! are x(n_inputs, n), samples in columns. Each writes its result only on success and
    ! returns GN_OK, GN_ERR_NULL (net not associated) or GN_ERR_DIM (extents that do not
    ! match, n = 0). Not thread-safe on one network.

    !> The Jacobian of every sample: j(:, :, s) = ∂y/∂x at x(:, s), an n_outputs × n_inputs
    !> matrix, so j(i, k, s) = ∂y_i/∂x_k of sample s. j has shape (n_outputs, n_inputs, n).
    !> layout (optional): GN_SAMPLES_IN_ROWS for x(n, n_inputs).
    subroutine gn_jacobian(net, x, j, status, layout, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :)
        real(c_float), intent(inout), contiguous :: j(:, :, :)
        integer(c_int), intent(out) :: status
        integer(c_int), intent(in), optional :: layout
        character(len=:), allocatable, intent(out), optional :: errmsg
        integer(c_int) :: lay
        character(len=*), parameter :: where = 'gn_jacobian'
        character(len=240) :: text
        integer(c_size_t) :: n, n_in, n_out
        character(len=:), allocatable :: m

        m = ''
        run: block
            if (.not. check_net(net, where, status, m)) exit run
            lay = GN_SAMPLES_IN_COLUMNS
            if (present(layout)) lay = layout
            if (lay /= GN_SAMPLES_IN_COLUMNS .and. lay /= GN_SAMPLES_IN_ROWS) then
                status = GN_ERR_ARG
                m = where//': unknown layout'
                exit run
            end if
            n = samples_of(x, lay)
            n_in = gn_net_n_inputs(net)
            n_out = gn_net_n_outputs(net)
            if (.not. check_matrix(x, lay, n_in, n, 'x', 'inputs', where, status, m)) exit run
            if (size(j, 1, kind=c_size_t) /= n_out .or. size(j, 2, kind=c_size_t) /= n_in &
                .or. size(j, 3, kind=c_size_t) /= n) then
                status = GN_ERR_DIM
                write (text, '(a,": j is ",i0," x ",i0," x ",i0,", expected ",i0," x ",i0, &
                    &" x ",i0," (outputs x inputs x samples)")') where, size(j, 1), &
                    size(j, 2), size(j, 3), n_out, n_in, n
                m = trim(text)
                exit run
            end if
            status = gn_net_jacobian_layout(net, lay, x, size(x, 1, kind=c_size_t), n, j, &
                                            size(j, 1, kind=c_size_t))
            call library_status(net, status, m)
        end block run
        if (present(errmsg)) errmsg = m
    end subroutine gn_jacobian

    !> Jacobian-vector products (forward mode): jv(:, s) = J(x(:, s)) · v(:, s).
    !> v(n_inputs, n), jv(n_outputs, n).
    subroutine gn_jvp(net, x, v, jv, status, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :), v(:, :)
        real(c_float), intent(inout), contiguous :: jv(:, :)
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        character(len=*), parameter :: where = 'gn_jvp'
        integer(c_size_t) :: n
        character(len=:), allocatable :: m

        m = ''
        run: block
            if (.not. check_xy(net, GN_SAMPLES_IN_COLUMNS, x, jv, 'jv', where, n, status, m)) &
                exit run
            if (.not. check_matrix(v, GN_SAMPLES_IN_COLUMNS, gn_net_n_inputs(net), n, 'v', &
                                   'inputs', where, status, m)) exit run
            status = gn_net_jvp(net, x, size(x, 1, kind=c_size_t), v, size(v, 1, kind=c_size_t), &
                                n, jv, size(jv, 1, kind=c_size_t))
            call library_status(net, status, m)
        end block run
        if (present(errmsg)) errmsg = m
    end subroutine gn_jvp

    !> Vector-Jacobian products (reverse mode): g(:, s) = J(x(:, s))ᵀ · u(:, s), the gradient
    !> of u(:, s)·y with respect to x(:, s). u(n_outputs, n), g(n_inputs, n).
    subroutine gn_vjp(net, x, u, g, status, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :), u(:, :)
        real(c_float), intent(inout), contiguous :: g(:, :)
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        character(len=*), parameter :: where = 'gn_vjp'
        integer(c_size_t) :: n
        character(len=:), allocatable :: m

        m = ''
        run: block
            if (.not. check_xy(net, GN_SAMPLES_IN_COLUMNS, x, u, 'u', where, n, status, m)) &
                exit run
            if (.not. check_matrix(g, GN_SAMPLES_IN_COLUMNS, gn_net_n_inputs(net), n, 'g', &
                                   'inputs', where, status, m)) exit run
            status = gn_net_vjp(net, x, size(x, 1, kind=c_size_t), u, size(u, 1, kind=c_size_t), &
                                n, g, size(g, 1, kind=c_size_t))
            call library_status(net, status, m)
        end block run
        if (present(errmsg)) errmsg = m
    end subroutine gn_vjp

    !> Input gradient of each sample's own training loss: g(:, s) = ∂c(a_s, y_s)/∂x_s
    !> (gn_net_input_gradient). y(n_outputs, n) are the targets in raw units, g(n_inputs, n);
    !> loss (optional) gets the mean loss.
    subroutine gn_input_gradient(net, x, y, g, status, loss, errmsg)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in), contiguous :: x(:, :), y(:, :)
        real(c_float), intent(inout), contiguous :: g(:, :)
        integer(c_int), intent(out) :: status
        real(c_double), intent(out), optional :: loss
        character(len=:), allocatable, intent(out), optional :: errmsg
        character(len=*), parameter :: where = 'gn_input_gradient'
        integer(c_size_t) :: n
        character(len=:), allocatable :: m

        m = ''
        run: block
            if (.not. check_xy(net, GN_SAMPLES_IN_COLUMNS, x, y, 'y', where, n, status, m)) &
                exit run
            if (.not. check_matrix(g, GN_SAMPLES_IN_COLUMNS, gn_net_n_inputs(net), n, 'g', &
                                   'inputs', where, status, m)) exit run
            status = gn_net_input_gradient(net, x, size(x, 1, kind=c_size_t), y, &
                                           size(y, 1, kind=c_size_t), n, g, &
                                           size(g, 1, kind=c_size_t), loss)
            call library_status(net, status, m)
        end block run
        if (present(errmsg)) errmsg = m
    end subroutine gn_input_gradient

    !==== Model files ===========================================================================

    !> Saves net to the file path (trailing blanks are not part of the name), atomically, as
    !> gn_net_save. status: GN_OK, GN_ERR_NULL, and gn_net_save's statuses; errmsg says what
    !> failed. Thread-safe for distinct networks.
    subroutine gn_save(net, path, status, errmsg)
        type(c_ptr), intent(in) :: net
        character(len=*), intent(in) :: path
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        character(kind=c_char) :: err(LIBRARY_ERRLEN)
        character(len=:), allocatable :: m

        m = ''
        if (check_net(net, 'gn_save', status, m)) then
            err = c_null_char
            status = gn_net_save(net, trim(path)//c_null_char, err, int(size(err), c_size_t))
            if (status /= GN_OK) m = c_chars_to_string(err)
            if (status /= GN_OK .and. len(m) == 0) m = gn_strerror(status)
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_save

    !> Loads the model file path into a new network (gn_net_load: workspace for 128 samples).
    !> On success net owns it (gn_free it); on failure net is c_null_ptr. status: GN_OK,
    !> GN_ERR_IO, GN_ERR_NOMEM, or the code of the defect found in the file (see
    !> gn_net_load); errmsg says what and where. Thread-safe.
    subroutine gn_load(net, path, status, errmsg)
        type(c_ptr), intent(out) :: net
        character(len=*), intent(in) :: path
        integer(c_int), intent(out) :: status
        character(len=:), allocatable, intent(out), optional :: errmsg
        character(kind=c_char) :: err(LIBRARY_ERRLEN)
        character(len=:), allocatable :: m

        m = ''
        err = c_null_char
        status = gn_net_load(net, trim(path)//c_null_char, err, int(size(err), c_size_t))
        if (status /= GN_OK) then
            net = c_null_ptr
            m = c_chars_to_string(err)
            if (len(m) == 0) m = gn_strerror(status)
        end if
        if (present(errmsg)) errmsg = m
    end subroutine gn_load

end module gemmnet
