// Whole-row gather / scatter between activation tensors (see ember_copy_rows_params).
#pragma once

#include "core/thread_pool.h"
#include "ember/kernels.h"

namespace ember::cpu {

void validate(const ember_copy_rows_params& p);
void copy_rows(const ember_copy_rows_params& p, ThreadPool& pool);
void copy_rows_ref(const ember_copy_rows_params& p);

}  // namespace ember::cpu
