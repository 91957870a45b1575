#ifndef DLG_CBLAS_SHIM_H
#define DLG_CBLAS_SHIM_H
#include <cblas.h>
/* OpenBLAS extensions for thread control and kernel selection; declared by
   Debian's cblas.h too. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
char *openblas_get_config(void);
#endif
