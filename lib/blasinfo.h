/* What blas.c tells blasinfo.c about the BLAS linked in. Never installed. */
#ifndef GN_BLASINFO_H
#define GN_BLASINFO_H

/* openblas_get_config(): a pointer into OpenBLAS's static buffer, rewritten on every call
 * (not thread-safe); NULL if the BLAS is not OpenBLAS. */
const char *gn__blas_config(void);
/* openblas_get_corename(): the kernel set chosen for this CPU; NULL if not OpenBLAS. */
const char *gn__blas_corename(void);
/* openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP; -1 if not OpenBLAS. */
int gn__blas_parallel(void);

#endif
