#pragma once

namespace ntblab::cli {
int demo();
int regs();
}  // namespace ntblab::cli
