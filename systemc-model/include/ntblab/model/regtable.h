// SPDX-License-Identifier: GPL-2.0-only
// Register description tables.
//
// Every register block of the model (NT endpoint, station port, DMA channel, ...)
// is described by one static table of RegDesc rows. The table drives the generic
// part of an access (which bits are writable, which clear on a 1, the reset value)
// and is also what docs/pex8749-model.md is generated from (`ntblab-cli regs`),
// so the documentation cannot drift from the model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ntblab::model {

/// How software may access a register (or the writable bits of it).
enum class Access : uint8_t {
  RO,   ///< read-only; writes are ignored
  RW,   ///< read/write (bits in rw_mask)
  W1C,  ///< read; writing 1 clears the bit (bits in w1c_mask)
  W1S,  ///< read; writing 1 sets the bit (side effect register, e.g. doorbell set)
  WO,   ///< write-only side-effect register; reads return 0
};

const char* to_string(Access a);

/// One register of a block. Offsets are relative to the block's base.
struct RegDesc {
  uint32_t offset;          ///< byte offset from the block base
  uint8_t width;            ///< width in bytes (1, 2 or 4)
  Access access;            ///< access type of the writable bits
  uint32_t reset;           ///< value after reset
  uint32_t rw_mask;         ///< bits a plain write stores
  uint32_t w1c_mask;        ///< bits a write of 1 clears
  const char* name;         ///< short mnemonic, e.g. "DB_SET_V"
  const char* meaning;      ///< one line for the docs
};

/// A named block of registers at a base offset within some address space.
struct RegBlock {
  std::string name;         ///< e.g. "NT0 virtual interface"
  std::string space;        ///< e.g. "BAR0 (chip registers)", "DMA BAR0"
  uint32_t base;            ///< base offset of the block in that space
  std::vector<RegDesc> regs;

  /// The register whose bytes contain `offset` (relative to base), if any.
  const RegDesc* find(uint32_t offset) const;
};

/// Register file backed by a RegBlock: stores values, applies the generic
/// write semantics (rw_mask, w1c_mask) and leaves side effects to the owner.
class RegFile {
 public:
  explicit RegFile(const RegBlock* block);
  void reset();
  /// Raw value of the register at `offset` (relative to the block base).
  uint32_t get(uint32_t offset) const;
  /// Raw store, bypassing masks (for the model's own updates).
  void set(uint32_t offset, uint32_t value);
  /// A software write: returns the new value after masks are applied.
  uint32_t write(uint32_t offset, uint32_t value);
  const RegBlock& block() const { return *block_; }

 private:
  size_t index_of(uint32_t offset) const;
  const RegBlock* block_;
  std::vector<uint32_t> values_;  // parallel to block_->regs
  std::vector<int32_t> index_;    // offset / 4 -> row, -1 where none
};

/// Render blocks as Markdown tables (offset, width, access, reset, name, meaning).
std::string to_markdown(const std::vector<const RegBlock*>& blocks);

}  // namespace ntblab::model
