// The data directory shared by orderd and orderctl: where the database lives, and the lock that
// tells whether an orderd is serving it. Both binaries go through here so they agree on paths.
#pragma once

#include <string>

#include "core/status.h"

namespace oc::cli {

struct DataDir {
  std::string root;
  std::string DatabasePath() const { return root + "/ordercenter.db"; }
  std::string LockPath() const { return root + "/orderd.lock"; }
  std::string UrlPath() const { return root + "/orderd.url"; }
};

// Creates `root` (mode 0700) if needed.
Result<DataDir> PrepareDataDir(const std::string& root);

// An exclusive lock held by orderd for its lifetime; released by the OS even on kill -9.
class DataDirLock {
 public:
  static Result<DataDirLock> Acquire(const DataDir& dir);
  // Whether some process holds the lock right now (orderd is running on `dir`).
  static bool IsHeld(const DataDir& dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace oc::cli
