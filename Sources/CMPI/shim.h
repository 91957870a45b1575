#ifndef DLG_CMPI_SHIM_H
#define DLG_CMPI_SHIM_H
#include <mpi.h>
/* Open MPI's predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are
   macros that take the address of a library global; Swift imports no such
   macro, so these functions hand them over. */
static inline MPI_Comm dlg_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype dlg_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype dlg_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype dlg_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype dlg_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype dlg_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op dlg_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Errhandler dlg_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *dlg_mpi_in_place(void) { return MPI_IN_PLACE; }
#endif
