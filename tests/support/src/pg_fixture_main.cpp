// aterm-test-postgres start HANDLE | stop HANDLE: the PostgreSQL cluster that the tests of one
// ctest run share (the CTest fixture aterm_postgres). `start` replaces a cluster an interrupted
// run left behind, starts a new one that outlives this program and describes it in HANDLE
// (aterm/test/pg_cluster.h); `stop` stops it and removes its folder and HANDLE.
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "aterm/test/pg_cluster.h"

namespace {

namespace fs = std::filesystem;

void discard(const fs::path& handle) {
  std::ifstream in(handle);
  std::string dir;
  if (std::getline(in, dir) && !dir.empty()) aterm::test::pg_cluster::discard(dir);
  std::error_code ec;
  fs::remove(handle, ec);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string verb = argc == 3 ? argv[1] : "";
  if (verb != "start" && verb != "stop") {
    std::cerr << "usage: aterm-test-postgres start|stop HANDLE\n";
    return 2;
  }
  const fs::path handle = argv[2];
  try {
    discard(handle);
    if (verb == "start") {
      aterm::test::pg_cluster cluster;
      aterm::test::write_postgres_handle(handle, cluster);
      cluster.release();
      std::cout << "PostgreSQL for this run: " << cluster.uri("postgres") << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "aterm-test-postgres " << verb << ": " << e.what() << "\n";
    return 1;
  }
}
