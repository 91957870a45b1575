#ifndef DLG_CZLIB_SHIM_H
#define DLG_CZLIB_SHIM_H
#include <zlib.h>
#endif
