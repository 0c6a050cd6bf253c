// The data directory shared by orderd and orderctl: where the database lives, and the lock that
// tells whether an orderd is serving it. Both binaries go through here so they agree on paths.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "privacy/field_crypto.h"
#include "store/store.h"

namespace oc::cli {

struct DataDir {
  std::string root;
  std::string DatabasePath() const { return root + "/ordercenter.db"; }
  std::string LockPath() const { return root + "/orderd.lock"; }
  std::string KeyringPath() const { return root + "/keyring.json"; }
  // The audit chain's head, kept outside the database (privacy/audit.h).
  std::string AuditCheckpointPath() const { return root + "/audit-checkpoint"; }
};

// The store as both binaries open it: keyring (created on first use, 0600), the encrypting
// codec, and the SQLite store wired to it. Members are destroyed store first.
struct OpenedStore {
  std::unique_ptr<privacy::FileKeyProvider> keys;
  std::unique_ptr<privacy::EnvelopePiiCodec> codec;
  std::unique_ptr<store::Store> store;
};
Result<OpenedStore> OpenDataDirStore(const DataDir& dir, size_t read_connections);

// Creates `root` (mode 0700) if needed.
Result<DataDir> PrepareDataDir(const std::string& root);

// An exclusive lock held by orderd for its lifetime; released by the OS even on kill -9.
class DataDirLock {
 public:
  static Result<DataDirLock> Acquire(const DataDir& dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace oc::cli
