#include "backend/backend.h"
#include "core/dtype.h"

namespace ember {

Tensor Tensor::cols_view(int64_t c0, int64_t n) const {
    Tensor t = *this;
    t.data = static_cast<char*>(data) + c0 * dtype_info(dtype)->block_bytes;
    t.cols = n;
    return t;
}

Tensor Tensor::rows_view(int64_t r0, int64_t n) const {
    Tensor t = *this;
    t.data = static_cast<char*>(data) + r0 * stride * dtype_info(dtype)->block_bytes;
    t.rows = n;
    return t;
}

Buffer::~Buffer() {
    if (owner_ != nullptr && data_ != nullptr) owner_->release(data_);
}

}  // namespace ember
