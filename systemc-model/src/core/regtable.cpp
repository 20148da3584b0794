// SPDX-License-Identifier: GPL-2.0-only
#include "ntblab/model/regtable.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace ntblab::model {

const char* to_string(Access a) {
  switch (a) {
    case Access::RO: return "RO";
    case Access::RW: return "RW";
    case Access::W1C: return "RW1C";
    case Access::W1S: return "RW1S";
    case Access::WO: return "WO";
  }
  return "?";
}

const RegDesc* RegBlock::find(uint32_t offset) const {
  for (const auto& r : regs)
    if (offset >= r.offset && offset < r.offset + r.width) return &r;
  return nullptr;
}

RegFile::RegFile(const RegBlock* block) : block_(block), values_(block->regs.size()) {
  // Offset -> row, for O(1) access: the model reads BAR and translation
  // registers on every transaction it decodes.
  uint32_t top = 0;
  for (const auto& r : block_->regs) top = std::max(top, r.offset);
  index_.assign(top / 4 + 1, -1);
  for (size_t i = 0; i < block_->regs.size(); ++i)
    if (block_->regs[i].offset % 4 == 0) index_[block_->regs[i].offset / 4] = int32_t(i);
  reset();
}

void RegFile::reset() {
  for (size_t i = 0; i < values_.size(); ++i) values_[i] = block_->regs[i].reset;
}

size_t RegFile::index_of(uint32_t offset) const {
  if (offset % 4 == 0) {
    size_t k = offset / 4;
    return k < index_.size() && index_[k] >= 0 ? size_t(index_[k]) : values_.size();
  }
  for (size_t i = 0; i < block_->regs.size(); ++i)  // unaligned rows (rare)
    if (block_->regs[i].offset == offset) return i;
  return values_.size();
}

uint32_t RegFile::get(uint32_t offset) const {
  size_t i = index_of(offset);
  return i < values_.size() ? values_[i] : 0;
}

void RegFile::set(uint32_t offset, uint32_t value) {
  size_t i = index_of(offset);
  if (i < values_.size()) values_[i] = value;
}

uint32_t RegFile::write(uint32_t offset, uint32_t value) {
  size_t i = index_of(offset);
  if (i >= values_.size()) return 0;
  const RegDesc& d = block_->regs[i];
  uint32_t v = values_[i];
  v = (v & ~d.rw_mask) | (value & d.rw_mask);
  v &= ~(value & d.w1c_mask);
  values_[i] = v;
  return v;
}

std::string to_markdown(const std::vector<const RegBlock*>& blocks) {
  std::ostringstream os;
  for (const RegBlock* b : blocks) {
    char base[32];
    std::snprintf(base, sizeof base, "0x%05X", b->base);
    os << "### " << b->name << "\n\n"
       << "Space: " << b->space << ", base " << base << ".\n\n"
       << "| offset | width | access | reset | name | meaning |\n"
       << "|---|---|---|---|---|---|\n";
    for (const auto& r : b->regs) {
      char off[32], rst[32];
      std::snprintf(off, sizeof off, "0x%05X", b->base + r.offset);
      std::snprintf(rst, sizeof rst, "0x%0*X", r.width * 2, r.reset);
      os << "| " << off << " | " << int(r.width * 8) << " | " << to_string(r.access) << " | "
         << rst << " | " << r.name << " | " << r.meaning << " |\n";
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace ntblab::model
