// SPDX-License-Identifier: GPL-2.0-only
#include <iostream>

#include "commands.h"
#include "ntblab/model/dma.h"
#include "ntblab/model/nt_regs.h"
#include "ntblab/model/regtable.h"

namespace ntblab::cli {
int regs() {
  std::vector<const model::RegBlock*> blocks = model::nt_register_blocks(0);
  for (const model::RegBlock* b : model::dma_register_blocks()) blocks.push_back(b);
  std::cout << model::to_markdown(blocks);
  return 0;
}
}  // namespace ntblab::cli
