// Sizes of the element and block types (ember_dtype).
#pragma once

#include <cstdint>

#include "ember/kernels.h"

namespace ember {

struct DtypeInfo {
    const char* name;
    int32_t block_elems;  // weights per block (1 for plain types)
    int32_t block_bytes;  // bytes per block
};

// nullptr for an unknown id.
const DtypeInfo* dtype_info(int32_t dtype);

// Bytes of n elements (n a multiple of the block size), or -1 when the type is unknown, n is not
// a whole number of blocks, or the size overflows.
int64_t dtype_row_bytes(int32_t dtype, int64_t n);

}  // namespace ember
