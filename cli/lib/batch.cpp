// SPDX-License-Identifier: GPL-2.0-only
#include "batch.h"

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace ntblab::cli::batch {

namespace {

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? std::string() : path.substr(0, slash);
}

void pad4(std::string& s) { s.append((4 - s.size() % 4) % 4, '\0'); }

}  // namespace

void Cpio::entry(const std::string& path, unsigned mode, const std::string& data) {
  // newc: "070701", then 13 fields of 8 hex digits, the name (NUL ended),
  // padding to 4 bytes, the data, padding to 4 bytes. Names have no leading '/'.
  const std::string name = path.substr(path.find_first_not_of('/'));
  char hdr[111];
  std::snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino_++, mode, 0u, 0u,
                1u, 0u, unsigned(data.size()), 0u, 0u, 0u, 0u, unsigned(name.size() + 1), 0u);
  out_.append(hdr, 110);
  out_ += name;
  out_ += '\0';
  pad4(out_);
  out_ += data;
  pad4(out_);
}

void Cpio::add_dir(const std::string& path) {
  if (path.empty() || path == "/" || names_.count(path)) return;
  add_dir(parent_of(path));
  names_.insert(path);
  entry(path, 040755, {});
}

void Cpio::add_file(const std::string& path, const std::string& data, unsigned mode) {
  if (path.empty() || path.front() != '/') throw std::invalid_argument("cpio: not an absolute path: " + path);
  add_dir(parent_of(path));
  names_.insert(path);
  entry(path, 0100000 | (mode & 07777), data);
}

std::string Cpio::finish() {
  entry("TRAILER!!!", 0, {});
  std::string out;
  out.swap(out_);
  names_.clear();
  ino_ = 1;
  return out;
}

std::vector<std::string> libraries_of(const std::string& program) {
  std::ifstream in(program, std::ios::binary);
  char magic[4] = {};
  if (!in.read(magic, 4) || std::string(magic, 4) != "\x7f" "ELF") return {};
  // ldd prints "name => /path (0x...)" per library and "/lib64/ld-... (0x...)"
  // for the interpreter; a static program: "not a dynamic executable".
  std::string quoted = "'";
  for (char c : program) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  FILE* p = popen(("ldd " + quoted + " 2>/dev/null").c_str(), "r");
  if (!p) throw std::runtime_error("cannot run ldd on " + program);
  std::vector<std::string> libs;
  char line[1024];
  while (std::fgets(line, sizeof line, p)) {
    std::istringstream words(line);
    std::string w, path;
    while (words >> w)
      if (!w.empty() && w.front() == '/') {
        path = w;
        break;
      }
    if (!path.empty()) libs.push_back(path);
  }
  pclose(p);
  return libs;
}

std::vector<std::string> module_closure(const std::string& moddir, const std::vector<std::string>& names) {
  std::ifstream dep(moddir + "/modules.dep");
  if (!dep) throw std::runtime_error("no " + moddir + "/modules.dep (./ntblab builds the guests' module tree)");
  auto norm = [](std::string n) {
    for (char& c : n)
      if (c == '-') c = '_';
    return n;
  };
  std::map<std::string, std::vector<std::string>> deps;  // path -> its dependencies
  std::map<std::string, std::string> by_name;           // module name -> path
  std::vector<std::string> lab;
  std::string line;
  while (std::getline(dep, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string path = line.substr(0, colon);
    std::istringstream rest(line.substr(colon + 1));
    for (std::string d; rest >> d;) deps[path].push_back(d);
    deps[path];
    std::string base = path.substr(path.rfind('/') + 1);
    base = base.substr(0, base.find(".ko"));
    by_name[norm(base)] = path;
    if (path.rfind("updates/ntblab/", 0) == 0) lab.push_back(path);
  }
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::function<void(const std::string&)> visit = [&](const std::string& p) {
    if (!seen.insert(p).second) return;
    for (const std::string& d : deps[p]) visit(d);
    order.push_back(p);
  };
  for (const std::string& p : lab) visit(p);
  for (const std::string& n : names) {
    auto it = by_name.find(norm(n));
    if (it == by_name.end()) throw std::runtime_error("batch.modules: the guest kernel has no module " + n);
    visit(it->second);
  }
  return order;
}

std::string node_requests(const scenario::Scenario& s, size_t node, const std::string& env) {
  std::string out = wire::frame('P', kPingId);
  for (size_t k = 0; k < s.steps.size(); ++k) {
    const scenario::StepSpec& st = s.steps[k];
    bool here = false;
    for (const std::string& on : st.on) here = here || on == s.nodes[node].name;
    if (!here) continue;
    uint32_t flags = wire::kRunInInitramfs | wire::kRunCheck;
    if (st.expect) flags |= uint32_t(*st.expect & 0xFF) << 8;
    else flags |= wire::kRunAnyStatus;
    out += wire::frame('R', step_id(k), wire::run_payload(env + st.run, double(st.timeout_ps) / 1e12, flags));
  }
  return out + wire::frame('S', step_id(s.steps.size()));
}

NodeLog parse_log(const std::string& bytes) {
  NodeLog log;
  std::string buf = bytes;
  std::map<uint32_t, CommandResult> open;
  wire::Frame f;
  while (wire::take_frame(buf, f)) {
    if (f.type == 'P' && f.id == kPingId) {
      log.info = f.payload;
    } else if (f.type == 'S') {
      log.done = true;
    } else if (wire::add_to_result(open[f.id], f)) {
      log.finished[f.id] = std::move(open[f.id]);
      open.erase(f.id);
    }
  }
  if (!open.empty()) log.running = open.begin()->first;
  return log;
}

}  // namespace ntblab::cli::batch
