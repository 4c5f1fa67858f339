#include "core/dtype.h"

#include <limits>

namespace ember {

const DtypeInfo* dtype_info(int32_t dtype) {
    static const DtypeInfo f32{"f32", 1, 4}, f16{"f16", 1, 2}, bf16{"bf16", 1, 2},
        q4_0{"q4_0", 32, 18}, q8_0{"q8_0", 32, 34}, q4_k{"q4_k", 256, 144}, q6_k{"q6_k", 256, 210};
    switch (dtype) {
        case EMBER_DTYPE_F32: return &f32;
        case EMBER_DTYPE_F16: return &f16;
        case EMBER_DTYPE_BF16: return &bf16;
        case EMBER_DTYPE_Q4_0: return &q4_0;
        case EMBER_DTYPE_Q8_0: return &q8_0;
        case EMBER_DTYPE_Q4_K: return &q4_k;
        case EMBER_DTYPE_Q6_K: return &q6_k;
        default: return nullptr;
    }
}

int64_t dtype_row_bytes(int32_t dtype, int64_t n) {
    const DtypeInfo* info = dtype_info(dtype);
    if (info == nullptr || n < 0 || n % info->block_elems != 0) return -1;
    const int64_t blocks = n / info->block_elems;
    if (blocks > std::numeric_limits<int64_t>::max() / info->block_bytes) return -1;
    return blocks * info->block_bytes;
}

}  // namespace ember

extern "C" EMBER_API int64_t ember_dtype_row_bytes(int32_t dtype, int64_t n) {
    return ember::dtype_row_bytes(dtype, n);
}
