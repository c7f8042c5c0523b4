! Test of the Fortran module (fortran/gemmnet.f90) against the library it binds:
!  - every bind(C) derived type has the size and member offsets of its C struct, and every
!    constant the value of the header's (both as reported by probe.c, compiled from gemmnet.h);
!  - gn_version() is the header's version;
!  - the GEMM backends: names and parsing, availability, gn_gemm_backend against a product
!    worked out by hand, a network's backend forced, described and tuned, and the refusals;
!  - a regression y = sin(x1) + x2² trained through gn_fit from Fortran arrays in both layouts
!    gives the same parameters and predictions bit for bit, and a held-out error below a bound;
!  - gn_jacobian agrees with central differences of gn_predict computed here in double
!    precision, and gn_jvp, gn_vjp and gn_input_gradient with products formed here from it;
!  - a saved and reloaded model predicts the same bits; the least-squares readout lowers the
!    training error and reports it;
!  - wrong sizes and other bad input give the right status and a message.
! Each failed check prints what failed; the program then ends with error stop 1.
program test_gemmnet
    use, intrinsic :: iso_c_binding
    use, intrinsic :: iso_fortran_env, only: int32, real64, error_unit
    use gemmnet
    implicit none

    interface
        function gnf_probe_struct(type, size, n_members) bind(C) result(found)
            import :: c_char, c_size_t, c_int
            character(kind=c_char), intent(in) :: type(*)
            integer(c_size_t), intent(out) :: size, n_members
            integer(c_int) :: found
        end function gnf_probe_struct

        function gnf_probe_member(type, name, offset, size) bind(C) result(found)
            import :: c_char, c_size_t, c_int
            character(kind=c_char), intent(in) :: type(*), name(*)
            integer(c_size_t), intent(out) :: offset, size
            integer(c_int) :: found
        end function gnf_probe_member

        function gnf_probe_constant(name, value) bind(C) result(found)
            import :: c_char, c_long_long, c_int
            character(kind=c_char), intent(in) :: name(*)
            integer(c_long_long), intent(out) :: value
            integer(c_int) :: found
        end function gnf_probe_constant

        function gnf_probe_n_constants() bind(C) result(n)
            import :: c_size_t
            integer(c_size_t) :: n
        end function gnf_probe_n_constants

        function gnf_probe_n_structs() bind(C) result(n)
            import :: c_size_t
            integer(c_size_t) :: n
        end function gnf_probe_n_structs

        function gnf_probe_version_string() bind(C) result(s)
            import :: c_ptr
            type(c_ptr) :: s
        end function gnf_probe_version_string

        function c_strlen(s) bind(C, name='strlen') result(n)
            import :: c_ptr, c_size_t
            type(c_ptr), value :: s
            integer(c_size_t) :: n
        end function c_strlen
    end interface

    ! Training grid: N1 × N2 points on [−2, 2] × [−1, 1]; held out: the centres of its cells.
    integer, parameter :: N1 = 25, N2 = 25, NTRAIN = N1*N2, NTEST = (N1 - 1)*(N2 - 1)
    ! Held-out RMSE the trained network must stay below. The targets span about [−0.9, 1.9]
    ! (standard deviation ≈ 0.7, the RMSE of predicting their mean); the 2-24-24-1 tanh
    ! network below reaches 2.7e-3 (OpenBLAS 0.3.21, one thread), so the bound leaves a
    ! margin of seven for other BLAS kernels and still fails for a network that has learnt
    ! the shape only roughly.
    real(real64), parameter :: RMSE_BOUND = 0.02_real64
    character(len=*), parameter :: MODEL_FILE = 'test_fortran_model.gnn'

    integer :: failures = 0, checks = 0
    ! Struct being checked, and its members counted so far.
    character(len=:), allocatable :: cur_type
    type(c_ptr) :: cur_base
    integer(c_size_t) :: cur_members

    call test_struct_layouts()
    call test_constants()
    call test_version()
    call test_backends()
    call test_regression()
    call test_errors()

    if (failures > 0) then
        write (error_unit, '(i0," of ",i0," checks failed")') failures, checks
        error stop 1
    end if
    print '("test_gemmnet (Fortran): all ",i0," checks passed")', checks

contains

    !==== Reporting =============================================================================

    subroutine check(ok, what)
        logical, intent(in) :: ok
        character(len=*), intent(in) :: what

        checks = checks + 1
        if (.not. ok) then
            failures = failures + 1
            write (error_unit, '("FAIL: ",a)') what
        end if
    end subroutine check

    !> A check the rest of the program depends on: stop at once if it fails.
    subroutine require(ok, what)
        logical, intent(in) :: ok
        character(len=*), intent(in) :: what

        call check(ok, what)
        if (.not. ok) then
            write (error_unit, '("cannot continue after: ",a)') what
            error stop 1
        end if
    end subroutine require

    function itoa(i) result(s)
        integer(c_long_long), intent(in) :: i
        character(len=:), allocatable :: s
        character(len=24) :: buf

        write (buf, '(i0)') i
        s = trim(buf)
    end function itoa

    function c_str(p) result(s)
        type(c_ptr), intent(in) :: p
        character(len=:), allocatable :: s
        character(kind=c_char), pointer :: chars(:)
        integer(c_size_t) :: i, n

        n = c_strlen(p)
        call c_f_pointer(p, chars, [n])
        allocate (character(len=n) :: s)
        do i = 1, n
            s(i:i) = chars(i)
        end do
    end function c_str

    !==== Struct layouts ========================================================================

    subroutine struct_begin(name, base, fortran_size)
        character(len=*), intent(in) :: name
        type(c_ptr), intent(in) :: base
        integer(c_size_t), intent(in) :: fortran_size
        integer(c_size_t) :: size, n

        cur_type = name
        cur_base = base
        cur_members = 0
        call require(gnf_probe_struct(name//c_null_char, size, n) == 1, &
                     'probe.c knows struct '//name)
        call check(size == fortran_size, 'sizeof('//name//'): C '//itoa(int(size, &
                   c_long_long))//', Fortran '//itoa(int(fortran_size, c_long_long)))
    end subroutine struct_begin

    subroutine member(name, addr, fortran_size)
        character(len=*), intent(in) :: name
        type(c_ptr), intent(in) :: addr
        integer(c_size_t), intent(in) :: fortran_size
        integer(c_size_t) :: offset, size
        integer(c_intptr_t) :: fortran_offset
        character(len=:), allocatable :: what

        what = cur_type//'%'//name
        cur_members = cur_members + 1
        call require(gnf_probe_member(cur_type//c_null_char, name//c_null_char, offset, &
                                      size) == 1, 'probe.c knows member '//what)
        fortran_offset = transfer(addr, 0_c_intptr_t) - transfer(cur_base, 0_c_intptr_t)
        call check(fortran_offset == int(offset, c_intptr_t), 'offsetof('//what//'): C '// &
                   itoa(int(offset, c_long_long))//', Fortran '// &
                   itoa(int(fortran_offset, c_long_long)))
        call check(size == fortran_size, 'sizeof('//what//'): C '// &
                   itoa(int(size, c_long_long))//', Fortran '// &
                   itoa(int(fortran_size, c_long_long)))
    end subroutine member

    subroutine struct_end()
        integer(c_size_t) :: size, n

        call require(gnf_probe_struct(cur_type//c_null_char, size, n) == 1, 'probe.c struct')
        call check(n == cur_members, cur_type//': C has '//itoa(int(n, c_long_long))// &
                   ' members, the test checked '//itoa(int(cur_members, c_long_long)))
    end subroutine struct_end

    subroutine test_struct_layouts()
        type(gn_net_config), target :: nc
        type(gn_epoch_info), target :: ei
        type(gn_train_options), target :: tr
        type(gn_rng), target :: rng
        type(gn_csv_options), target :: csv
        type(gn_array_options), target :: arr
        type(gn_optimizer_config), target :: oc
        type(gn_fit_progress), target :: fp
        type(gn_fit_options), target :: fo
        type(gn_fit_result), target :: fr
        type(gn_checkpoint_info), target :: ci
        type(gn_blas_info), target :: bi
        integer :: structs

        structs = 0
        call struct_begin('gn_net_config', c_loc(nc), c_sizeof(nc))
        call member('n_sizes', c_loc(nc%n_sizes), c_sizeof(nc%n_sizes))
        call member('sizes', c_loc(nc%sizes), c_sizeof(nc%sizes))
        call member('acts', c_loc(nc%acts), c_sizeof(nc%acts))
        call member('hidden_act', c_loc(nc%hidden_act), c_sizeof(nc%hidden_act))
        call member('output_act', c_loc(nc%output_act), c_sizeof(nc%output_act))
        call member('loss', c_loc(nc%loss), c_sizeof(nc%loss))
        call member('init', c_loc(nc%init), c_sizeof(nc%init))
        call member('seed', c_loc(nc%seed), c_sizeof(nc%seed))
        call member('max_batch', c_loc(nc%max_batch), c_sizeof(nc%max_batch))
        call member('leaky_slope', c_loc(nc%leaky_slope), c_sizeof(nc%leaky_slope))
        call member('impl', c_loc(nc%impl), c_sizeof(nc%impl))
        call member('huber_delta', c_loc(nc%huber_delta), c_sizeof(nc%huber_delta))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_epoch_info', c_loc(ei), c_sizeof(ei))
        call member('epoch', c_loc(ei%epoch), c_sizeof(ei%epoch))
        call member('epochs', c_loc(ei%epochs), c_sizeof(ei%epochs))
        call member('train_loss', c_loc(ei%train_loss), c_sizeof(ei%train_loss))
        call member('seconds', c_loc(ei%seconds), c_sizeof(ei%seconds))
        call member('samples', c_loc(ei%samples), c_sizeof(ei%samples))
        call member('val_loss', c_loc(ei%val_loss), c_sizeof(ei%val_loss))
        call member('val_accuracy', c_loc(ei%val_accuracy), c_sizeof(ei%val_accuracy))
        call member('lr', c_loc(ei%lr), c_sizeof(ei%lr))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_train_options', c_loc(tr), c_sizeof(tr))
        call member('epochs', c_loc(tr%epochs), c_sizeof(tr%epochs))
        call member('batch', c_loc(tr%batch), c_sizeof(tr%batch))
        call member('eta', c_loc(tr%eta), c_sizeof(tr%eta))
        call member('shuffle', c_loc(tr%shuffle), c_sizeof(tr%shuffle))
        call member('on_epoch', c_loc(tr%on_epoch), c_sizeof(tr%on_epoch))
        call member('user', c_loc(tr%user), c_sizeof(tr%user))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_rng', c_loc(rng), c_sizeof(rng))
        call member('s', c_loc(rng%s), c_sizeof(rng%s))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_csv_options', c_loc(csv), c_sizeof(csv))
        call member('header', c_loc(csv%header), c_sizeof(csv%header))
        call member('label_column', c_loc(csv%label_column), c_sizeof(csv%label_column))
        call member('delimiter', c_loc(csv%delimiter), c_sizeof(csv%delimiter))
        call member('regression', c_loc(csv%regression), c_sizeof(csv%regression))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_array_options', c_loc(arr), c_sizeof(arr))
        call member('regression', c_loc(arr%regression), c_sizeof(arr%regression))
        call member('n_classes', c_loc(arr%n_classes), c_sizeof(arr%n_classes))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_optimizer_config', c_loc(oc), c_sizeof(oc))
        call member('kind', c_loc(oc%kind), c_sizeof(oc%kind))
        call member('lr', c_loc(oc%lr), c_sizeof(oc%lr))
        call member('momentum', c_loc(oc%momentum), c_sizeof(oc%momentum))
        call member('rho', c_loc(oc%rho), c_sizeof(oc%rho))
        call member('beta1', c_loc(oc%beta1), c_sizeof(oc%beta1))
        call member('beta2', c_loc(oc%beta2), c_sizeof(oc%beta2))
        call member('eps', c_loc(oc%eps), c_sizeof(oc%eps))
        call member('weight_decay', c_loc(oc%weight_decay), c_sizeof(oc%weight_decay))
        call member('l2', c_loc(oc%l2), c_sizeof(oc%l2))
        call member('clip_norm', c_loc(oc%clip_norm), c_sizeof(oc%clip_norm))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_fit_progress', c_loc(fp), c_sizeof(fp))
        call member('epochs_done', c_loc(fp%epochs_done), c_sizeof(fp%epochs_done))
        call member('best_epoch', c_loc(fp%best_epoch), c_sizeof(fp%best_epoch))
        call member('best_val_loss', c_loc(fp%best_val_loss), c_sizeof(fp%best_val_loss))
        call member('best_params', c_loc(fp%best_params), c_sizeof(fp%best_params))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_fit_options', c_loc(fo), c_sizeof(fo))
        call member('epochs', c_loc(fo%epochs), c_sizeof(fo%epochs))
        call member('batch', c_loc(fo%batch), c_sizeof(fo%batch))
        call member('opt', c_loc(fo%opt), c_sizeof(fo%opt))
        call member('optimizer', c_loc(fo%optimizer), c_sizeof(fo%optimizer))
        call member('schedule', c_loc(fo%schedule), c_sizeof(fo%schedule))
        call member('step_epochs', c_loc(fo%step_epochs), c_sizeof(fo%step_epochs))
        call member('gamma', c_loc(fo%gamma), c_sizeof(fo%gamma))
        call member('min_lr', c_loc(fo%min_lr), c_sizeof(fo%min_lr))
        call member('dropout', c_loc(fo%dropout), c_sizeof(fo%dropout))
        call member('standardize', c_loc(fo%standardize), c_sizeof(fo%standardize))
        call member('patience', c_loc(fo%patience), c_sizeof(fo%patience))
        call member('restore_best', c_loc(fo%restore_best), c_sizeof(fo%restore_best))
        call member('shuffle', c_loc(fo%shuffle), c_sizeof(fo%shuffle))
        call member('on_epoch', c_loc(fo%on_epoch), c_sizeof(fo%on_epoch))
        call member('on_batch', c_loc(fo%on_batch), c_sizeof(fo%on_batch))
        call member('user', c_loc(fo%user), c_sizeof(fo%user))
        call member('resume', c_loc(fo%resume), c_sizeof(fo%resume))
        call member('checkpoint_path', c_loc(fo%checkpoint_path), c_sizeof(fo%checkpoint_path))
        call member('checkpoint_every', c_loc(fo%checkpoint_every), &
                    c_sizeof(fo%checkpoint_every))
        call member('checkpoint_meta', c_loc(fo%checkpoint_meta), c_sizeof(fo%checkpoint_meta))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_fit_result', c_loc(fr), c_sizeof(fr))
        call member('epochs', c_loc(fr%epochs), c_sizeof(fr%epochs))
        call member('best_epoch', c_loc(fr%best_epoch), c_sizeof(fr%best_epoch))
        call member('best_val_loss', c_loc(fr%best_val_loss), c_sizeof(fr%best_val_loss))
        call member('train_loss', c_loc(fr%train_loss), c_sizeof(fr%train_loss))
        call member('train_seconds', c_loc(fr%train_seconds), c_sizeof(fr%train_seconds))
        call member('samples', c_loc(fr%samples), c_sizeof(fr%samples))
        call member('stopped_early', c_loc(fr%stopped_early), c_sizeof(fr%stopped_early))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_checkpoint_info', c_loc(ci), c_sizeof(ci))
        call member('format_version', c_loc(ci%format_version), c_sizeof(ci%format_version))
        call member('n_sections', c_loc(ci%n_sections), c_sizeof(ci%n_sections))
        call member('n_skipped', c_loc(ci%n_skipped), c_sizeof(ci%n_skipped))
        call member('crc', c_loc(ci%crc), c_sizeof(ci%crc))
        call member('file_bytes', c_loc(ci%file_bytes), c_sizeof(ci%file_bytes))
        call member('has_scaling', c_loc(ci%has_scaling), c_sizeof(ci%has_scaling))
        call member('has_optimizer', c_loc(ci%has_optimizer), c_sizeof(ci%has_optimizer))
        call member('has_rng', c_loc(ci%has_rng), c_sizeof(ci%has_rng))
        call member('has_progress', c_loc(ci%has_progress), c_sizeof(ci%has_progress))
        call member('has_meta', c_loc(ci%has_meta), c_sizeof(ci%has_meta))
        call struct_end()
        structs = structs + 1

        call struct_begin('gn_blas_info', c_loc(bi), c_sizeof(bi))
        call member('config', c_loc(bi%config), c_sizeof(bi%config))
        call member('corename', c_loc(bi%corename), c_sizeof(bi%corename))
        call member('parallel', c_loc(bi%parallel), c_sizeof(bi%parallel))
        call member('threads', c_loc(bi%threads), c_sizeof(bi%threads))
        call member('cores', c_loc(bi%cores), c_sizeof(bi%cores))
        call struct_end()
        structs = structs + 1

        call check(int(structs, c_size_t) == gnf_probe_n_structs(), &
                   'every struct probe.c knows was checked')
        deallocate (cur_type)

        ! The defaults written by C land in the members the Fortran side reads.
        call gn_net_config_defaults(nc)
        call check(nc%n_sizes == 0 .and. .not. c_associated(nc%sizes) .and. &
                   .not. c_associated(nc%acts) .and. nc%hidden_act == GN_ACT_SIGMOID .and. &
                   nc%output_act == GN_ACT_SIGMOID .and. nc%loss == GN_LOSS_QUADRATIC .and. &
                   nc%init == GN_INIT_AUTO .and. nc%seed == 1 .and. nc%max_batch == 128 .and. &
                   nc%impl == GN_IMPL_BLAS, &
                   'gn_net_config_defaults as documented')
        call gn_fit_options_defaults(fo)
        call check(fo%epochs == 10 .and. fo%batch == 128 .and. fo%opt%kind == GN_OPT_ADAM &
                   .and. fo%restore_best == 1 .and. fo%shuffle == 1 .and. &
                   fo%schedule == GN_SCHEDULE_CONSTANT .and. fo%standardize == 0 .and. &
                   .not. c_associated(fo%optimizer) .and. &
                   .not. c_associated(fo%on_epoch) .and. .not. c_associated(fo%resume) .and. &
                   fo%checkpoint_every == 1 .and. .not. c_associated(fo%checkpoint_meta), &
                   'gn_fit_options_defaults as documented')
        call gn_csv_options_defaults(csv)
        call check(csv%header == -1 .and. csv%label_column == -1 .and. &
                   csv%delimiter == ',' .and. csv%regression == 0, &
                   'gn_csv_options_defaults as documented')
    end subroutine test_struct_layouts

    !==== Constants and version =================================================================

    subroutine konst(name, fortran_value, n)
        character(len=*), intent(in) :: name
        integer(c_long_long), intent(in) :: fortran_value
        integer, intent(inout) :: n
        integer(c_long_long) :: value

        n = n + 1
        call require(gnf_probe_constant(name//c_null_char, value) == 1, &
                     'probe.c knows '//name)
        call check(value == fortran_value, name//': header '//itoa(value)//', module '// &
                   itoa(fortran_value))
    end subroutine konst

    subroutine test_constants()
        integer, parameter :: k = c_long_long
        integer :: n

        n = 0
        call konst('GN_VERSION_MAJOR', int(GN_VERSION_MAJOR, k), n)
        call konst('GN_VERSION_MINOR', int(GN_VERSION_MINOR, k), n)
        call konst('GN_VERSION_PATCH', int(GN_VERSION_PATCH, k), n)
        call konst('GN_VERSION_NUMBER', int(GN_VERSION_NUMBER, k), n)
        call konst('GN_OK', int(GN_OK, k), n)
        call konst('GN_ERR_NULL', int(GN_ERR_NULL, k), n)
        call konst('GN_ERR_ARG', int(GN_ERR_ARG, k), n)
        call konst('GN_ERR_DIM', int(GN_ERR_DIM, k), n)
        call konst('GN_ERR_BATCH', int(GN_ERR_BATCH, k), n)
        call konst('GN_ERR_NONFINITE', int(GN_ERR_NONFINITE, k), n)
        call konst('GN_ERR_NOMEM', int(GN_ERR_NOMEM, k), n)
        call konst('GN_ERR_UNSUPPORTED', int(GN_ERR_UNSUPPORTED, k), n)
        call konst('GN_ERR_IO', int(GN_ERR_IO, k), n)
        call konst('GN_ERR_FORMAT', int(GN_ERR_FORMAT, k), n)
        call konst('GN_ERR_MAGIC', int(GN_ERR_MAGIC, k), n)
        call konst('GN_ERR_VERSION', int(GN_ERR_VERSION, k), n)
        call konst('GN_ERR_TRUNCATED', int(GN_ERR_TRUNCATED, k), n)
        call konst('GN_ERR_TRAILING', int(GN_ERR_TRAILING, k), n)
        call konst('GN_ERR_CHECKSUM', int(GN_ERR_CHECKSUM, k), n)
        call konst('GN_ERR_LIMIT', int(GN_ERR_LIMIT, k), n)
        call konst('GN_ERR_SECTION', int(GN_ERR_SECTION, k), n)
        call konst('GN_ERR_VALUE', int(GN_ERR_VALUE, k), n)
        call konst('GN_ERR_DIVERGED', int(GN_ERR_DIVERGED, k), n)
        call konst('GN_ERR_SINGULAR', int(GN_ERR_SINGULAR, k), n)
        call konst('GN_NOTRANS', int(GN_NOTRANS, k), n)
        call konst('GN_TRANS', int(GN_TRANS, k), n)
        call konst('GN_IMPL_BLAS', int(GN_IMPL_BLAS, k), n)
        call konst('GN_IMPL_NAIVE', int(GN_IMPL_NAIVE, k), n)
        call konst('GN_IMPL_LOOP', int(GN_IMPL_LOOP, k), n)
        call konst('GN_BACKEND_AUTO', int(GN_BACKEND_AUTO, k), n)
        call konst('GN_BACKEND_OPENBLAS', int(GN_BACKEND_OPENBLAS, k), n)
        call konst('GN_BACKEND_ONEDNN', int(GN_BACKEND_ONEDNN, k), n)
        call konst('GN_BACKEND_LIBXSMM', int(GN_BACKEND_LIBXSMM, k), n)
        call konst('GN_BACKEND_COUNT', int(GN_BACKEND_COUNT, k), n)
        call konst('GN_ACT_IDENTITY', int(GN_ACT_IDENTITY, k), n)
        call konst('GN_ACT_SIGMOID', int(GN_ACT_SIGMOID, k), n)
        call konst('GN_ACT_TANH', int(GN_ACT_TANH, k), n)
        call konst('GN_ACT_RELU', int(GN_ACT_RELU, k), n)
        call konst('GN_ACT_LEAKY_RELU', int(GN_ACT_LEAKY_RELU, k), n)
        call konst('GN_ACT_SOFTMAX', int(GN_ACT_SOFTMAX, k), n)
        call konst('GN_ACT_ELU', int(GN_ACT_ELU, k), n)
        call konst('GN_ACT_SOFTPLUS', int(GN_ACT_SOFTPLUS, k), n)
        call konst('GN_ACT_COUNT', int(GN_ACT_COUNT, k), n)
        call konst('GN_LOSS_QUADRATIC', int(GN_LOSS_QUADRATIC, k), n)
        call konst('GN_LOSS_BCE', int(GN_LOSS_BCE, k), n)
        call konst('GN_LOSS_CCE', int(GN_LOSS_CCE, k), n)
        call konst('GN_LOSS_MAE', int(GN_LOSS_MAE, k), n)
        call konst('GN_LOSS_HUBER', int(GN_LOSS_HUBER, k), n)
        call konst('GN_LOSS_COUNT', int(GN_LOSS_COUNT, k), n)
        call konst('GN_INIT_AUTO', int(GN_INIT_AUTO, k), n)
        call konst('GN_INIT_XAVIER', int(GN_INIT_XAVIER, k), n)
        call konst('GN_INIT_HE', int(GN_INIT_HE, k), n)
        call konst('GN_INIT_NIELSEN', int(GN_INIT_NIELSEN, k), n)
        call konst('GN_INIT_ORTHOGONAL', int(GN_INIT_ORTHOGONAL, k), n)
        call konst('GN_INIT_COUNT', int(GN_INIT_COUNT, k), n)
        call konst('GN_MAX_WIDTH', int(GN_MAX_WIDTH, k), n)
        call konst('GN_MAX_SIZES', int(GN_MAX_SIZES, k), n)
        call konst('GN_PRODUCT_FORWARD', int(GN_PRODUCT_FORWARD, k), n)
        call konst('GN_PRODUCT_DELTA', int(GN_PRODUCT_DELTA, k), n)
        call konst('GN_PRODUCT_WEIGHT', int(GN_PRODUCT_WEIGHT, k), n)
        call konst('GN_PRODUCT_COUNT', int(GN_PRODUCT_COUNT, k), n)
        call konst('GN_SAMPLES_IN_COLUMNS', int(GN_SAMPLES_IN_COLUMNS, k), n)
        call konst('GN_SAMPLES_IN_ROWS', int(GN_SAMPLES_IN_ROWS, k), n)
        call konst('GN_OPT_SGD', int(GN_OPT_SGD, k), n)
        call konst('GN_OPT_MOMENTUM', int(GN_OPT_MOMENTUM, k), n)
        call konst('GN_OPT_NESTEROV', int(GN_OPT_NESTEROV, k), n)
        call konst('GN_OPT_RMSPROP', int(GN_OPT_RMSPROP, k), n)
        call konst('GN_OPT_ADAM', int(GN_OPT_ADAM, k), n)
        call konst('GN_OPT_ADAMW', int(GN_OPT_ADAMW, k), n)
        call konst('GN_OPT_COUNT', int(GN_OPT_COUNT, k), n)
        call konst('GN_SCHEDULE_CONSTANT', int(GN_SCHEDULE_CONSTANT, k), n)
        call konst('GN_SCHEDULE_STEP', int(GN_SCHEDULE_STEP, k), n)
        call konst('GN_SCHEDULE_COSINE', int(GN_SCHEDULE_COSINE, k), n)
        call konst('GN_STANDARDIZE_INPUTS', int(GN_STANDARDIZE_INPUTS, k), n)
        call konst('GN_STANDARDIZE_OUTPUTS', int(GN_STANDARDIZE_OUTPUTS, k), n)
        call konst('GN_BLAS_PARALLEL_UNKNOWN', int(GN_BLAS_PARALLEL_UNKNOWN, k), n)
        call konst('GN_BLAS_PARALLEL_SEQUENTIAL', int(GN_BLAS_PARALLEL_SEQUENTIAL, k), n)
        call konst('GN_BLAS_PARALLEL_PTHREADS', int(GN_BLAS_PARALLEL_PTHREADS, k), n)
        call konst('GN_BLAS_PARALLEL_OPENMP', int(GN_BLAS_PARALLEL_OPENMP, k), n)
        call check(int(n, c_size_t) == gnf_probe_n_constants(), 'every constant probe.c knows ('// &
                   itoa(int(gnf_probe_n_constants(), k))//') was checked ('//itoa(int(n, k))//')')
    end subroutine test_constants

    subroutine test_version()
        character(len=:), allocatable :: v, header
        character(len=40) :: from_numbers
        integer(c_long_long) :: major, minor, patch

        v = gn_version()
        header = c_str(gnf_probe_version_string())
        call require(gnf_probe_constant('GN_VERSION_MAJOR'//c_null_char, major) == 1, &
                     'probe.c knows GN_VERSION_MAJOR')
        call require(gnf_probe_constant('GN_VERSION_MINOR'//c_null_char, minor) == 1, &
                     'probe.c knows GN_VERSION_MINOR')
        call require(gnf_probe_constant('GN_VERSION_PATCH'//c_null_char, patch) == 1, &
                     'probe.c knows GN_VERSION_PATCH')
        write (from_numbers, '(i0,".",i0,".",i0)') major, minor, patch
        call check(v == trim(from_numbers), 'gn_version() "'//v//'" is MAJOR.MINOR.PATCH of '// &
                   'the header, '//trim(from_numbers))
        call check(v == header, 'gn_version() "'//v//'" equals GN_VERSION_STRING "'//header//'"')
        call check(v == GN_VERSION_STRING, 'gn_version() "'//v// &
                   '" equals the module''s GN_VERSION_STRING "'//GN_VERSION_STRING//'"')
    end subroutine test_version

    !==== GEMM backends =========================================================================

    !> ASCII letters of s in upper case.
    pure function upper(s) result(u)
        character(len=*), intent(in) :: s
        character(len=len(s)) :: u
        integer :: i

        u = s
        do i = 1, len(s)
            if (u(i:i) >= 'a' .and. u(i:i) <= 'z') u(i:i) = achar(iachar(u(i:i)) - 32)
        end do
    end function upper

    !> gn_net_describe_backends as a Fortran string: asked for its length first, then written.
    function describe(net) result(s)
        type(c_ptr), intent(in) :: net
        character(len=:), allocatable :: s
        character(kind=c_char), allocatable :: buf(:)
        integer(c_size_t) :: n, again
        integer :: i

        n = gn_net_describe_backends(net, len=0_c_size_t)
        allocate (buf(n + 1))
        buf = 'x'
        again = gn_net_describe_backends(net, buf, n + 1)
        call check(again == n .and. buf(n + 1) == c_null_char, &
                   'gn_net_describe_backends: the same length twice, and a terminating NUL')
        allocate (character(len=n) :: s)
        do i = 1, int(n)
            s(i:i) = buf(i)
        end do
    end function describe

    !> Whether gn_net_layer_backend gives `expect` for every product of layers 1 … n_layers
    !> (expect = GN_BACKEND_AUTO: an available named backend each).
    logical function every_product_on(net, n_layers, expect) result(ok)
        type(c_ptr), intent(in) :: net
        integer(c_size_t), intent(in) :: n_layers
        integer(c_int), intent(in) :: expect
        integer(c_size_t) :: l
        integer(c_int) :: p, be

        ok = .true.
        do l = 1, n_layers
            do p = 0, GN_PRODUCT_COUNT - 1
                be = gn_net_layer_backend(net, l, p)
                if (expect /= GN_BACKEND_AUTO) then
                    ok = ok .and. be == expect
                else if (be <= GN_BACKEND_AUTO .or. be >= GN_BACKEND_COUNT) then
                    ok = .false.
                else if (gn_backend_available(be) /= 1) then
                    ok = .false.
                end if
            end do
        end do
    end function every_product_on

    !> Names and parsing, availability, gn_gemm_backend against a product worked out by hand,
    !> and the backend of a network: set in the configuration, forced, described and tuned;
    !> then the refusals.
    subroutine test_backends()
        character(len=*), parameter :: NAMES(0:3) = &
            [character(len=8) :: 'auto', 'openblas', 'onednn', 'libxsmm']
        ! C := 2·A·B + ½·C0 with A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12], C0 = [2 4; 6 8]:
        ! A·B = [58 64; 139 154], so C = [117 130; 281 312]. Small integers: every backend
        ! must give these values exactly, whatever its order of summation.
        real(c_float), parameter :: MA(2, 3) = reshape([1, 4, 2, 5, 3, 6], [2, 3])
        real(c_float), parameter :: MB(3, 2) = reshape([7, 9, 11, 8, 10, 12], [3, 2])
        real(c_float), parameter :: MC0(2, 2) = reshape([2, 6, 4, 8], [2, 2])
        real(c_float), parameter :: EXPECT(4) = [117, 281, 130, 312]
        integer(c_size_t), parameter :: NL = 3, BATCH = 16
        real(c_float) :: mc(2, 2), mat(3, 2), x(3, BATCH), p_openblas(2, BATCH), p_tuned(2, BATCH)
        type(gn_net_config) :: cfg
        type(c_ptr) :: net
        integer(c_int) :: be, parsed, status, status2
        integer(c_size_t) :: n, tuned
        character(kind=c_char) :: short(5)
        character(len=:), allocatable :: name, msg, text, available
        logical :: env_backend
        integer :: envlen, envstat, i

        ! Names and their parsing, in either case; anything else is no backend.
        do be = 0, GN_BACKEND_COUNT - 1
            name = c_str(gn_backend_name(be))
            call check(name == trim(NAMES(be)), 'gn_backend_name('// &
                       itoa(int(be, c_long_long))//') = "'//name//'", expected "'// &
                       trim(NAMES(be))//'"')
            parsed = -1
            status = gn_backend_parse(name//c_null_char, parsed)
            call check(status == GN_OK .and. parsed == be, 'gn_backend_parse("'//name//'")')
            parsed = -1
            status = gn_backend_parse(upper(name)//c_null_char, parsed)
            call check(status == GN_OK .and. parsed == be, &
                       'gn_backend_parse("'//upper(name)//'")')
        end do
        name = c_str(gn_backend_name(GN_BACKEND_COUNT))
        call check(name == 'unknown', 'gn_backend_name(GN_BACKEND_COUNT) is "unknown"')
        name = c_str(gn_backend_name(-1_c_int))
        call check(name == 'unknown', 'gn_backend_name(-1) is "unknown"')
        parsed = 99
        status = gn_backend_parse('unknown'//c_null_char, parsed)
        call check(status == GN_ERR_ARG .and. parsed == 99, &
                   'gn_backend_parse("unknown"): GN_ERR_ARG, out unchanged')
        status = gn_backend_parse(c_null_char, parsed)
        call check(status == GN_ERR_ARG .and. parsed == 99, &
                   'gn_backend_parse(""): GN_ERR_ARG, out unchanged')

        ! Availability: auto and OpenBLAS always, nothing outside the enumeration.
        call check(gn_backend_available(GN_BACKEND_AUTO) == 1, 'gn_backend_available(auto)')
        call check(gn_backend_available(GN_BACKEND_OPENBLAS) == 1, &
                   'gn_backend_available(openblas)')
        call check(gn_backend_available(GN_BACKEND_COUNT) == 0, &
                   'gn_backend_available(GN_BACKEND_COUNT) is 0')
        call check(gn_backend_available(-1_c_int) == 0, 'gn_backend_available(-1) is 0')
        available = ''
        do be = GN_BACKEND_OPENBLAS, GN_BACKEND_COUNT - 1
            if (gn_backend_available(be) == 1) available = available//' '//trim(NAMES(be))
        end do
        print '("backends available:",a)', available

        ! The product on every available backend, and on OpenBLAS with A given transposed
        ! (op(A) = Aᵀ of the 3 × 2 matrix mat, lda = 3).
        do be = GN_BACKEND_OPENBLAS, GN_BACKEND_COUNT - 1
            mc = MC0
            status = gn_gemm_backend(be, GN_NOTRANS, GN_NOTRANS, 2_c_size_t, 2_c_size_t, &
                                     3_c_size_t, 2.0_c_float, MA, 2_c_size_t, MB, 3_c_size_t, &
                                     0.5_c_float, mc, 2_c_size_t)
            if (gn_backend_available(be) == 1) then
                call check(status == GN_OK .and. same_bits(reshape(mc, [4]), EXPECT), &
                           'gn_gemm_backend('//trim(NAMES(be))//'): C = 2 A B + C0/2 exactly')
            else
                call check(status == GN_ERR_UNSUPPORTED, 'gn_gemm_backend('// &
                           trim(NAMES(be))//'), not available: GN_ERR_UNSUPPORTED')
            end if
        end do
        mat = transpose(MA)
        mc = MC0
        status = gn_gemm_backend(GN_BACKEND_OPENBLAS, GN_TRANS, GN_NOTRANS, 2_c_size_t, &
                                 2_c_size_t, 3_c_size_t, 2.0_c_float, mat, 3_c_size_t, MB, &
                                 3_c_size_t, 0.5_c_float, mc, 2_c_size_t)
        call check(status == GN_OK .and. same_bits(reshape(mc, [4]), EXPECT), &
                   'gn_gemm_backend(openblas, GN_TRANS): C = 2 A B + C0/2 exactly')
        ! No backend chosen, or none at all.
        status = gn_gemm_backend(GN_BACKEND_AUTO, GN_NOTRANS, GN_NOTRANS, 2_c_size_t, &
                                 2_c_size_t, 3_c_size_t, 2.0_c_float, MA, 2_c_size_t, MB, &
                                 3_c_size_t, 0.5_c_float, mc, 2_c_size_t)
        call check(status == GN_ERR_ARG, 'gn_gemm_backend(auto): GN_ERR_ARG')
        status = gn_gemm_backend(GN_BACKEND_COUNT, GN_NOTRANS, GN_NOTRANS, 2_c_size_t, &
                                 2_c_size_t, 3_c_size_t, 2.0_c_float, MA, 2_c_size_t, MB, &
                                 3_c_size_t, 0.5_c_float, mc, 2_c_size_t)
        call check(status == GN_ERR_ARG, 'gn_gemm_backend(GN_BACKEND_COUNT): GN_ERR_ARG')

        ! A network: automatic, unless the environment variable GN_BACKEND names a backend
        ! (which gn_net_set_backend overrides).
        call get_environment_variable('GN_BACKEND', length=envlen, status=envstat)
        env_backend = envstat == 0 .and. envlen > 0
        call gn_net_config_defaults(cfg)
        cfg%hidden_act = GN_ACT_TANH
        cfg%output_act = GN_ACT_IDENTITY
        cfg%max_batch = BATCH
        call gn_create_config(net, cfg, [3, 5, 4, 2], status, errmsg=msg)
        call require(status == GN_OK, 'gn_create_config: '//msg)
        if (.not. env_backend) call check(gn_net_backend(net) == GN_BACKEND_AUTO, &
                                          'a new network is automatic')

        ! Forced: every product of every layer on OpenBLAS, and the description says so.
        status = gn_net_set_backend(net, GN_BACKEND_OPENBLAS)
        call check(status == GN_OK, 'gn_net_set_backend(openblas)')
        call check(gn_net_backend(net) == GN_BACKEND_OPENBLAS, 'gn_net_backend: openblas')
        call check(every_product_on(net, NL, GN_BACKEND_OPENBLAS), &
                   'forced openblas: gn_net_layer_backend is openblas everywhere')
        text = describe(net)
        call check(index(text, 'openblas') > 0 .and. index(text, 'forced') > 0, &
                   'gn_net_describe_backends, forced: "'//text//'"')
        ! Truncated as snprintf truncates: the full length back, the start of the text, a NUL.
        short = 'x'
        n = gn_net_describe_backends(net, short, int(size(short), c_size_t))
        call check(n == len(text) .and. short(5) == c_null_char .and. &
                   all([(short(i) == text(i:i), i=1, 4)]), &
                   'gn_net_describe_backends into 5 bytes: 4 characters, a NUL, the full length')
        call check(gn_net_layer_backend(net, 0_c_size_t, GN_PRODUCT_FORWARD) == GN_BACKEND_AUTO, &
                   'gn_net_layer_backend of layer 0: auto')
        call check(gn_net_layer_backend(net, NL + 1, GN_PRODUCT_FORWARD) == GN_BACKEND_AUTO, &
                   'gn_net_layer_backend of layer L + 1: auto')
        call check(gn_net_layer_backend(net, 1_c_size_t, GN_PRODUCT_COUNT) == GN_BACKEND_AUTO, &
                   'gn_net_layer_backend of product GN_PRODUCT_COUNT: auto')
        do i = 1, int(BATCH)
            x(:, i) = real([sin(0.3*i), cos(0.7*i), 0.1*i - 0.8], c_float)
        end do
        call gn_predict(net, x, p_openblas, status, errmsg=msg)
        call require(status == GN_OK, 'gn_predict on openblas: '//msg)

        ! Automatic: OpenBLAS until tuned, then an available backend for every product.
        status = gn_net_set_backend(net, GN_BACKEND_AUTO)
        call check(status == GN_OK, 'gn_net_set_backend(auto)')
        call check(gn_net_backend(net) == GN_BACKEND_AUTO, 'gn_net_backend: auto')
        call check(gn_net_tuned_batch(net) == 0, 'auto: gn_net_tuned_batch is 0 before tuning')
        call check(every_product_on(net, NL, GN_BACKEND_OPENBLAS), &
                   'auto before tuning: gn_net_layer_backend is openblas everywhere')
        status = gn_net_tune(net, BATCH)
        tuned = gn_net_tuned_batch(net)
        call check(status == GN_OK .and. tuned == BATCH, &
                   'gn_net_tune(16): GN_OK, gn_net_tuned_batch = 16')
        text = describe(net)
        call check(every_product_on(net, NL, GN_BACKEND_AUTO), &
                   'tuned: every product on an available backend ('//text//')')
        call check(index(text, 'tuned for batch 16') > 0, &
                   'gn_net_describe_backends, tuned: "'//text//'"')
        print '("tuned: ",a)', text
        ! Backends round differently, so the tuned network agrees to rounding only.
        call gn_predict(net, x, p_tuned, status, errmsg=msg)
        call require(status == GN_OK, 'gn_predict on the tuned network: '//msg)
        call check(all(abs(p_tuned - p_openblas) <= 1.0e-5*(1 + abs(p_openblas))), &
                   'tuned predictions equal the openblas ones to rounding')

        ! Refusals; the setting and the tuned batch stay as they were.
        call check(gn_net_tune(net, 0_c_size_t) == GN_ERR_ARG, 'gn_net_tune(0): GN_ERR_ARG')
        call check(gn_net_tune(net, BATCH + 1) == GN_ERR_ARG, &
                   'gn_net_tune(max_batch + 1): GN_ERR_ARG')
        call check(gn_net_tuned_batch(net) == BATCH, 'a refused gn_net_tune keeps the tuned batch')
        status = gn_net_set_backend(net, GN_BACKEND_COUNT)
        status2 = gn_net_set_backend(net, -1_c_int)
        call check(status == GN_ERR_ARG .and. status2 == GN_ERR_ARG, &
                   'gn_net_set_backend of an unknown value: GN_ERR_ARG')
        call check(gn_net_backend(net) == GN_BACKEND_AUTO, &
                   'a refused gn_net_set_backend keeps the setting')
        do be = GN_BACKEND_ONEDNN, GN_BACKEND_COUNT - 1
            if (gn_backend_available(be) == 1) cycle
            call check(gn_net_set_backend(net, be) == GN_ERR_UNSUPPORTED, &
                       'gn_net_set_backend('//trim(NAMES(be))//'), not available: '// &
                       'GN_ERR_UNSUPPORTED')
        end do

        ! Forced, tuning only records the batch.
        status = gn_net_set_backend(net, GN_BACKEND_OPENBLAS)
        call require(status == GN_OK, 'gn_net_set_backend(openblas) again')
        status = gn_net_tune(net, 8_c_size_t)
        tuned = gn_net_tuned_batch(net)
        call check(status == GN_OK .and. tuned == 8, &
                   'gn_net_tune(8) on a forced network: GN_OK, gn_net_tuned_batch = 8')
        call gn_free(net)

        ! No network.
        call check(gn_net_backend(c_null_ptr) == GN_BACKEND_AUTO, 'gn_net_backend(NULL): auto')
        call check(gn_net_tuned_batch(c_null_ptr) == 0, 'gn_net_tuned_batch(NULL): 0')
        call check(gn_net_layer_backend(c_null_ptr, 1_c_size_t, GN_PRODUCT_FORWARD) == &
                   GN_BACKEND_AUTO, 'gn_net_layer_backend(NULL): auto')
        short = 'x'
        n = gn_net_describe_backends(c_null_ptr, short, 5_c_size_t)
        call check(n == 0 .and. short(1) == c_null_char, 'gn_net_describe_backends(NULL): ""')
        call check(gn_net_set_backend(c_null_ptr, GN_BACKEND_OPENBLAS) == GN_ERR_NULL, &
                   'gn_net_set_backend(NULL): GN_ERR_NULL')
        call check(gn_net_tune(c_null_ptr, 1_c_size_t) == GN_ERR_NULL, &
                   'gn_net_tune(NULL): GN_ERR_NULL')
    end subroutine test_backends

    !==== Training, sensitivities, files ========================================================

    pure real(real64) function target_fn(x1, x2)
        real(real64), intent(in) :: x1, x2

        target_fn = sin(x1) + x2**2
    end function target_fn

    !> Equal as bit patterns (a comparison of reals that NaN or a signed zero cannot fool).
    logical function same_bits(a, b)
        real(c_float), intent(in) :: a(:), b(:)

        same_bits = size(a) == size(b)
        if (same_bits) same_bits = all(transfer(a, 0_int32, size(a)) == &
                                       transfer(b, 0_int32, size(b)))
    end function same_bits

    real(real64) function rmse(pred, y)
        real(c_float), intent(in) :: pred(:)
        real(real64), intent(in) :: y(:)

        rmse = sqrt(sum((real(pred, real64) - y)**2)/size(y))
    end function rmse

    subroutine test_regression()
        real(c_float) :: xtr(2, NTRAIN), ytr(1, NTRAIN), xtr_rows(NTRAIN, 2), ytr_rows(NTRAIN, 1)
        real(c_float) :: xte(2, NTEST), xte_rows(NTEST, 2), pa(1, NTEST), pb_rows(NTEST, 1)
        real(c_float) :: pc(1, NTEST), pc_rows(NTEST, 1), ptr(1, NTRAIN)
        real(real64) :: yte(NTEST), ytr64(NTRAIN), err_test, rmse0, rmse1
        real(c_double) :: lstsq_rmse
        type(c_ptr) :: net_a, net_b, net_c
        type(gn_fit_options) :: opts
        type(gn_fit_result) :: ra, rb
        real(c_float), pointer :: params_a(:), params_b(:), params_c(:)
        integer(c_int) :: status
        character(len=:), allocatable :: msg
        character(len=200) :: line
        integer :: i, j, s
        real(real64) :: x1, x2

        ! Training grid and held-out cell centres, in both layouts.
        s = 0
        do j = 1, N2
            do i = 1, N1
                s = s + 1
                x1 = -2 + 4*real(i - 1, real64)/(N1 - 1)
                x2 = -1 + 2*real(j - 1, real64)/(N2 - 1)
                xtr(:, s) = real([x1, x2], c_float)
                ytr64(s) = target_fn(real(xtr(1, s), real64), real(xtr(2, s), real64))
                ytr(1, s) = real(ytr64(s), c_float)
            end do
        end do
        s = 0
        do j = 1, N2 - 1
            do i = 1, N1 - 1
                s = s + 1
                x1 = -2 + 4*(real(i, real64) - 0.5_real64)/(N1 - 1)
                x2 = -1 + 2*(real(j, real64) - 0.5_real64)/(N2 - 1)
                xte(:, s) = real([x1, x2], c_float)
                yte(s) = target_fn(real(xte(1, s), real64), real(xte(2, s), real64))
            end do
        end do
        xtr_rows = transpose(xtr)
        ytr_rows = transpose(ytr)
        xte_rows = transpose(xte)

        call gn_fit_options_defaults(opts)
        opts%epochs = 300
        opts%batch = 32
        call gn_optimizer_config_defaults(opts%opt, GN_OPT_ADAM)
        opts%opt%lr = 0.01
        opts%schedule = GN_SCHEDULE_COSINE
        opts%min_lr = 1.0e-4
        opts%standardize = ior(GN_STANDARDIZE_INPUTS, GN_STANDARDIZE_OUTPUTS)

        ! Same seed, same options: one network fitted from columns, one from rows. The seed is
        ! given as an int64 and as a default integer: the bit-for-bit comparison below also
        ! shows both kinds seed the same network.
        call gn_create(net_a, [2, 24, 24, 1], GN_ACT_TANH, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, &
                       7_c_int64_t, 64, status, msg)
        call require(status == GN_OK, 'gn_create (columns network): '//msg)
        call check(len(gn_error_message(net_a)) == 0, 'a new network has no error message')
        call gn_create(net_b, [2, 24, 24, 1], GN_ACT_TANH, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, &
                       7, 64, status, msg)
        call require(status == GN_OK, 'gn_create (rows network): '//msg)
        ! Every comparison of bits below needs the same sgemm throughout: an automatic network
        ! picks its backends by timing them, and backends round differently. All three
        ! networks of this test run on OpenBLAS.
        call require(gn_net_set_backend(net_a, GN_BACKEND_OPENBLAS) == GN_OK, &
                     'gn_net_set_backend(openblas) on the columns network')
        call require(gn_net_set_backend(net_b, GN_BACKEND_OPENBLAS) == GN_OK, &
                     'gn_net_set_backend(openblas) on the rows network')

        call gn_fit(net_a, xtr, ytr, opts, ra, status, errmsg=msg)
        call require(status == GN_OK, 'gn_fit, samples in columns: '//msg)
        call gn_fit(net_b, xtr_rows, ytr_rows, opts, rb, status, layout=GN_SAMPLES_IN_ROWS, &
                    errmsg=msg)
        call require(status == GN_OK, 'gn_fit, samples in rows: '//msg)
        call check(ra%epochs == 300 .and. rb%epochs == 300 .and. ra%samples == 300*NTRAIN, &
                   'gn_fit_result reports 300 epochs of all samples')

        params_a => gn_params(net_a)
        params_b => gn_params(net_b)
        call require(associated(params_a) .and. associated(params_b), 'gn_params')
        call check(size(params_a) == (2*24 + 24) + (24*24 + 24) + (24 + 1), &
                   'gn_params has n_params floats')
        call check(same_bits(params_a, params_b), &
                   'parameters fitted from columns and from rows are bit-identical')
        call check(same_bits([real(ra%train_loss, c_float)], [real(rb%train_loss, c_float)]), &
                   'final training loss identical between layouts')

        ! Held-out predictions: network A from columns, network B from rows; same bits.
        call gn_predict(net_a, xte, pa, status, errmsg=msg)
        call require(status == GN_OK, 'gn_predict (columns): '//msg)
        call gn_predict(net_b, xte_rows, pb_rows, status, layout=GN_SAMPLES_IN_ROWS, errmsg=msg)
        call require(status == GN_OK, 'gn_predict (rows): '//msg)
        call check(same_bits(pa(1, :), pb_rows(:, 1)), &
                   'held-out predictions identical between layouts')
        err_test = rmse(pa(1, :), yte)
        write (line, '("held-out RMSE ",es10.3," below ",es10.3)') err_test, RMSE_BOUND
        call check(err_test < RMSE_BOUND, trim(line))
        print '(a)', trim(line)

        call test_sensitivities(net_a, xte)

        ! Save, reload, predict the same bits in both layouts.
        call gn_save(net_a, MODEL_FILE, status, msg)
        call require(status == GN_OK, 'gn_save: '//msg)
        call gn_load(net_c, MODEL_FILE, status, msg)
        call require(status == GN_OK .and. c_associated(net_c), 'gn_load: '//msg)
        call delete_file(MODEL_FILE)
        call require(gn_net_set_backend(net_c, GN_BACKEND_OPENBLAS) == GN_OK, &
                     'gn_net_set_backend(openblas) on the reloaded network')
        params_c => gn_params(net_c)
        call check(same_bits(params_a, params_c), 'reloaded parameters are bit-identical')
        ! gn_net_load gives a workspace of 128 samples; with A's 64 the predictions are made
        ! in the same chunks, hence the same products. (Other chunk widths may round
        ! differently: some BLAS kernels, e.g. OpenBLAS's Haswell ones, treat the edge
        ! columns of a product in another order.)
        call require(gn_net_reserve(net_c, gn_net_max_batch(net_a)) == GN_OK, 'gn_net_reserve')
        call gn_predict(net_c, xte, pc, status)
        call check(status == GN_OK .and. same_bits(pa(1, :), pc(1, :)), &
                   'reloaded model: same held-out predictions (columns)')
        call gn_predict(net_c, xte_rows, pc_rows, status, layout=GN_SAMPLES_IN_ROWS)
        call check(status == GN_OK .and. same_bits(pa(1, :), pc_rows(:, 1)), &
                   'reloaded model: same held-out predictions (rows)')

        ! Least-squares readout on the reloaded copy: the training RMSE computed here cannot
        ! grow (the trained output layer is one of the candidates), and the one reported is
        ! the one computed here from the new predictions.
        call gn_predict(net_c, xtr, ptr, status)
        call require(status == GN_OK, 'gn_predict on the training set')
        rmse0 = rmse(ptr(1, :), ytr64)
        call gn_fit_lstsq(net_c, xtr, ytr, 0.0_c_float, status, lstsq_rmse, msg)
        call require(status == GN_OK, 'gn_fit_lstsq: '//msg)
        call gn_predict(net_c, xtr, ptr, status)
        call require(status == GN_OK, 'gn_predict after gn_fit_lstsq')
        rmse1 = rmse(ptr(1, :), ytr64)
        write (line, '("gn_fit_lstsq: training RMSE ",es10.3," -> ",es10.3,", reported ",es10.3)') &
            rmse0, rmse1, lstsq_rmse
        call check(rmse1 <= rmse0*(1 + 1.0e-3_real64), trim(line)//' (must not grow)')
        call check(abs(lstsq_rmse - rmse1) <= 1.0e-3_real64*rmse1, &
                   trim(line)//' (reported = computed within 0.1 %)')

        call gn_free(net_a)
        call gn_free(net_b)
        call gn_free(net_c)
        call check(.not. c_associated(net_a), 'gn_free nullifies the handle')
    end subroutine test_regression

    subroutine delete_file(path)
        character(len=*), intent(in) :: path
        integer :: unit, ios

        open (newunit=unit, file=path, status='old', iostat=ios)
        if (ios == 0) close (unit, status='delete')
    end subroutine delete_file

    !> gn_jacobian against central differences of gn_predict, and gn_jvp, gn_vjp and
    !> gn_input_gradient against products formed in double precision from that Jacobian.
    subroutine test_sensitivities(net, xall)
        type(c_ptr), intent(in) :: net
        real(c_float), intent(in) :: xall(:, :)
        integer, parameter :: M = 16
        ! Step of the differences: a power of two, so x ± H is exact for these inputs
        ! (|x| ≤ 2 and H well above their spacing), and the step taken is exactly 2H.
        real(c_float), parameter :: H = 2.0**(-8)
        ! Error of the central difference quotient: truncation H²/6·|y'''| plus the float32
        ! rounding of the two outputs, about 2·6e-8·|y| / (2H). Measured on this network
        ! (|y'''| of order 10 after the input scaling): 7.7e-3, 1.9e-3, 4.9e-4, 1.2e-4, 3.3e-5
        ! for H = 2^-4 … 2^-8 (truncation, falling fourfold per halving), then 6.8e-5 at 2^-9
        ! (rounding). At 2^-8 both terms are a few 1e-5; 5e-4 is a margin of ten over the
        ! budget, while a Jacobian missing the input scaling (factors 0.6 to 1.7 here) or with
        ! swapped entries would be off by 1e-1 or more. Relative to max(1, |difference|).
        real(real64), parameter :: TOL_FD = 5.0e-4_real64
        ! Products formed from the same Jacobian in double: only float32 rounding differs.
        real(real64), parameter :: TOL_PROD = 1.0e-5_real64
        real(c_float) :: x(2, M), xp(2, M), xm(2, M), yp(1, M), ym(1, M), y(1, M), pred(1, M)
        real(c_float) :: jac(1, 2, M), jr(1, 2, M), v(2, M), jv(1, M), u(1, M), g(2, M), gi(2, M)
        real(c_double) :: loss
        real(real64) :: fd, worst, expect, scale, sq, mean_loss, sigma
        real(c_float), pointer :: omean(:), ostd(:)
        type(c_ptr) :: pmean, pstd
        integer(c_int) :: status
        character(len=:), allocatable :: msg
        character(len=200) :: line
        integer :: s, k

        ! Every 37th held-out point: spread over the square.
        do s = 1, M
            x(:, s) = xall(:, 1 + mod(37*(s - 1), size(xall, 2)))
        end do
        call gn_jacobian(net, x, jac, status, errmsg=msg)
        call require(status == GN_OK, 'gn_jacobian: '//msg)
        ! The same points as x(M, 2), samples in rows: the same Jacobian, to float rounding
        ! (the library reads rows through a transposed first product).
        jr = 0
        call gn_jacobian(net, transpose(x), jr, status, GN_SAMPLES_IN_ROWS, msg)
        call require(status == GN_OK, 'gn_jacobian in rows: '//msg)
        call require(maxval(abs(jr - jac)) <= 1.0e-5*(1 + maxval(abs(jac))), &
                     'gn_jacobian: rows and columns disagree')

        worst = 0
        do k = 1, 2
            xp = x
            xm = x
            xp(k, :) = x(k, :) + H
            xm(k, :) = x(k, :) - H
            call gn_predict(net, xp, yp, status)
            call require(status == GN_OK, 'gn_predict at x + h')
            call gn_predict(net, xm, ym, status)
            call require(status == GN_OK, 'gn_predict at x - h')
            do s = 1, M
                fd = (real(yp(1, s), real64) - real(ym(1, s), real64))/ &
                     (real(xp(k, s), real64) - real(xm(k, s), real64))
                worst = max(worst, abs(real(jac(1, k, s), real64) - fd)/max(1.0_real64, abs(fd)))
            end do
        end do
        write (line, '("gn_jacobian vs central differences: worst error ",es10.3," (tol ",&
            &es8.1,")")') worst, TOL_FD
        call check(worst <= TOL_FD, trim(line))
        print '(a)', trim(line)

        ! Directions and weights that differ per sample.
        do s = 1, M
            v(:, s) = real([cos(0.7*s), sin(1.3*s)], c_float)
            u(1, s) = real(1.0 + 0.25*s, c_float)
        end do
        call gn_jvp(net, x, v, jv, status, msg)
        call require(status == GN_OK, 'gn_jvp: '//msg)
        call gn_vjp(net, x, u, g, status, msg)
        call require(status == GN_OK, 'gn_vjp: '//msg)
        worst = 0
        do s = 1, M
            scale = sum(abs(real(jac(1, :, s), real64)*real(v(:, s), real64)))
            expect = sum(real(jac(1, :, s), real64)*real(v(:, s), real64))
            worst = max(worst, abs(real(jv(1, s), real64) - expect)/max(scale, 1.0e-30_real64))
            do k = 1, 2
                expect = real(jac(1, k, s), real64)*real(u(1, s), real64)
                worst = max(worst, abs(real(g(k, s), real64) - expect)/ &
                            max(abs(expect), 1.0e-30_real64))
            end do
        end do
        write (line, '("gn_jvp, gn_vjp vs J v, J^T u: worst relative error ",es10.3)') worst
        call check(worst <= TOL_PROD, trim(line))

        ! Input gradient of the quadratic loss with output scaling (mean m, std σ):
        ! c = ½((ŷ − y)/σ)², so ∂c/∂x = (ŷ − y)/σ² · J. The library forms the residual in
        ! standardised units from float32 values, this test from ŷ in raw units: the two
        ! residuals differ by a few float32 roundings of the values involved, 4·2⁻²³·(|ŷ| +
        ! |m|), which for the smallest residuals (1e-5) is most of the result. The tolerance
        ! is that absolute term carried through |J|/σ², plus 1e-4 relative for the products.
        call require(gn_net_output_scaling(net, pmean, pstd) == GN_OK .and. &
                     c_associated(pstd), 'gn_net_output_scaling (the fit standardised outputs)')
        call c_f_pointer(pmean, omean, [1])
        call c_f_pointer(pstd, ostd, [1])
        sigma = real(ostd(1), real64)
        do s = 1, M
            y(1, s) = real(target_fn(real(x(1, s), real64), real(x(2, s), real64)), c_float)
        end do
        call gn_predict(net, x, pred, status)
        call require(status == GN_OK, 'gn_predict for the input gradient')
        call gn_input_gradient(net, x, y, gi, status, loss, msg)
        call require(status == GN_OK, 'gn_input_gradient: '//msg)
        worst = 0
        mean_loss = 0
        do s = 1, M
            sq = (real(pred(1, s), real64) - real(y(1, s), real64))/sigma
            mean_loss = mean_loss + 0.5_real64*sq**2/M
            do k = 1, 2
                expect = sq/sigma*real(jac(1, k, s), real64)
                scale = 4*2.0_real64**(-23)*(abs(real(pred(1, s), real64)) + &
                                             abs(real(omean(1), real64))) &
                        *abs(real(jac(1, k, s), real64))/sigma**2
                worst = max(worst, abs(real(gi(k, s), real64) - expect)/ &
                            (1.0e-4_real64*abs(expect) + scale + 1.0e-30_real64))
            end do
        end do
        write (line, '("gn_input_gradient vs (yhat - y)/sigma^2 J: worst error / tolerance ", &
            &es10.3,"; loss ",es12.5," vs ",es12.5)') worst, loss, mean_loss
        call check(worst <= 1, trim(line))
        call check(abs(loss - mean_loss) <= 1.0e-4_real64*mean_loss + 1.0e-12_real64, trim(line))
    end subroutine test_sensitivities

    !==== Errors ================================================================================

    subroutine test_errors()
        type(c_ptr) :: net, bad
        real(c_float) :: x3(3, 5), x2(2, 5), y1(1, 5), y1short(1, 4), y1rows(5, 1)
        type(gn_fit_options) :: opts
        type(gn_fit_result) :: res
        integer(c_int) :: status
        character(len=:), allocatable :: msg, before

        x3 = 0.5
        x2 = 0.5
        y1 = 1
        y1rows = 1
        y1short = 1

        call gn_create(net, [2, 3, 1], GN_ACT_TANH, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, &
                       1_c_int64_t, 8, status, msg)
        call require(status == GN_OK, 'gn_create for the error tests: '//msg)

        ! Found by the wrapper: three features for a two-input network.
        call gn_predict(net, x3, y1, status, errmsg=msg)
        call check(status == GN_ERR_DIM .and. len(msg) > 0, &
                   'gn_predict with 3 features on 2 inputs: GN_ERR_DIM and a message ("'// &
                   msg//'")')
        ! Outputs for fewer samples than inputs.
        call gn_predict(net, x2, y1short, status, errmsg=msg)
        call check(status == GN_ERR_DIM .and. index(msg, 'y') > 0, &
                   'gn_predict with 4 outputs for 5 samples: GN_ERR_DIM ("'//msg//'")')
        ! A layout that is not one.
        call gn_predict(net, x2, y1, status, layout=7_c_int, errmsg=msg)
        call check(status == GN_ERR_ARG .and. len(msg) > 0, 'gn_predict with layout 7: '// &
                   'GN_ERR_ARG ("'//msg//'")')
        ! The same data given as rows without saying so: x2 has 2 rows = 2 features by columns,
        ! but y1rows (5 × 1) is not 1 × 5.
        call gn_predict(net, x2, y1rows, status, errmsg=msg)
        call check(status == GN_ERR_DIM, 'gn_predict with y in the other layout: GN_ERR_DIM')

        ! Found by the library, reported through gn_error_message: ldx below n_inputs.
        before = gn_error_message(net)
        status = gn_net_predict(net, x2, 1_c_size_t, 5_c_size_t, y1, 1_c_size_t)
        msg = gn_error_message(net)
        call check(status == GN_ERR_DIM .and. len(msg) > 0 .and. msg /= before, &
                   'gn_net_predict with ldx 1 < 2 inputs: GN_ERR_DIM and a message ("'// &
                   msg//'")')
        before = gn_strerror(-1000_c_int)
        msg = gn_strerror(status)
        call check(len(msg) > 0 .and. msg /= before, &
                   'gn_strerror(GN_ERR_DIM) is its own description: "'//msg//'", unknown: "'// &
                   before//'"')

        ! gn_fit: targets for fewer samples (wrapper), features that do not match the network
        ! (library, gn_net_fit), a missing validation half (wrapper).
        call gn_fit_options_defaults(opts)
        opts%epochs = 1
        opts%batch = 4
        call gn_fit(net, x2, y1short, opts, res, status, errmsg=msg)
        call check(status == GN_ERR_DIM .and. len(msg) > 0, &
                   'gn_fit with 4 targets for 5 samples: GN_ERR_DIM ("'//msg//'")')
        call gn_fit(net, x3, y1, opts, res, status, errmsg=msg)
        before = gn_error_message(net)
        call check(status == GN_ERR_DIM .and. len(msg) > 0 .and. &
                   msg == before, 'gn_fit with 3 features on 2 inputs: '// &
                   'GN_ERR_DIM and the library''s message ("'//msg//'")')
        call gn_fit(net, x2, y1, opts, res, status, x_val=x2, errmsg=msg)
        call check(status == GN_ERR_ARG .and. len(msg) > 0, &
                   'gn_fit with x_val but no y_val: GN_ERR_ARG ("'//msg//'")')

        ! Sensitivities with a Jacobian array of the wrong shape.
        block
            real(c_float) :: jac(1, 3, 5)
            call gn_jacobian(net, x2, jac, status, errmsg=msg)
            call check(status == GN_ERR_DIM .and. len(msg) > 0, &
                       'gn_jacobian into a 1 x 3 x 5 array on 2 inputs: GN_ERR_DIM ("'// &
                       msg//'")')
        end block

        ! Creation: too few sizes, a zero width; no network comes back.
        call gn_create(bad, [2], GN_ACT_TANH, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, &
                       1_c_int64_t, 8, status, msg)
        call check(status == GN_ERR_ARG .and. len(msg) > 0 .and. .not. c_associated(bad), &
                   'gn_create with one size: GN_ERR_ARG and a message ("'//msg//'")')
        call gn_create(bad, [2, 4, 1], GN_ACT_SOFTMAX, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, &
                       1_c_int64_t, 8, status, msg)
        call check(status == GN_ERR_ARG .and. len(msg) > 0 .and. .not. c_associated(bad), &
                   'gn_create with a softmax hidden layer: GN_ERR_ARG ("'//msg//'")')
        call gn_create(bad, [2, 0, 1], GN_ACT_TANH, GN_ACT_IDENTITY, GN_LOSS_QUADRATIC, &
                       1_c_int64_t, 8, status, msg)
        call check(status == GN_ERR_ARG .and. len(msg) > 0 .and. .not. c_associated(bad), &
                   'gn_create with a zero width: GN_ERR_ARG ("'//msg//'")')

        ! Files.
        call gn_load(bad, 'no/such/dir/model.gnn', status, msg)
        call check(status == GN_ERR_IO .and. len(msg) > 0 .and. .not. c_associated(bad), &
                   'gn_load of a missing file: GN_ERR_IO ("'//msg//'")')
        call gn_save(net, 'no/such/dir/model.gnn', status, msg)
        call check(status == GN_ERR_IO .and. len(msg) > 0, &
                   'gn_save into a missing directory: GN_ERR_IO ("'//msg//'")')

        ! A handle that is not associated.
        bad = c_null_ptr
        call gn_predict(bad, x2, y1, status, errmsg=msg)
        call check(status == GN_ERR_NULL .and. len(msg) > 0, &
                   'gn_predict on a null network: GN_ERR_NULL')
        call check(len(gn_error_message(bad)) == 0, 'gn_error_message of a null network is ""')

        call gn_free(net)
        call gn_free(net)
    end subroutine test_errors

end program test_gemmnet
