#include <iostream>

#include "commands.h"

namespace ntblab::cli {
int demo() {
  std::cout << "ntblab demo: model not yet wired\n";
  return 0;
}
}  // namespace ntblab::cli
