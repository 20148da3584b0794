// Files a run writes (results.json, the logs it writes itself): written
// atomically — a temporary file in the same directory, fsync, rename — so a
// reader sees the old file or the whole new one, never an empty or partial
// one (docs/scenario-format.md, "Results").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ntblab::cli {

/// Write `data` to `path` atomically. Throws std::runtime_error (naming the
/// path and the errno) if any step fails; then `path` is left as it was and
/// no temporary file remains.
void write_file_atomic(const std::string& path, const std::string& data);

/// The whole of the file at `path`, bytes as they are. Throws
/// std::runtime_error naming the path if it cannot be read.
std::string read_whole_file(const std::string& path);

/// `j` as text that is always valid JSON: invalid UTF-8 in any string (a
/// guest's output, a scenario's name, a path) becomes U+FFFD.
std::string json_text(const nlohmann::json& j, int indent = 2);

}  // namespace ntblab::cli
