#include <iostream>

#include "commands.h"
#include "ntblab/model/regtable.h"

namespace ntblab::cli {
int regs() {
  // Filled in as register blocks land.
  std::cout << model::to_markdown({});
  return 0;
}
}  // namespace ntblab::cli
