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
  // The keyring file when it lives elsewhere (--keyring, ORDERCENTER_KEYRING): on its own
  // volume, say, so that a copy or backup of the data directory holds ciphertext only.
  std::string keyring;
  std::string DatabasePath() const { return root + "/ordercenter.db"; }
  std::string LockPath() const { return root + "/orderd.lock"; }
  std::string KeyringPath() const { return keyring.empty() ? root + "/keyring.json" : keyring; }
  // The audit chain's head, kept outside the database (privacy/audit.h).
  std::string AuditCheckpointPath() const { return root + "/audit-checkpoint"; }
};

// The store as both binaries open it: keyring (created on first use, 0600), the encrypting
// codec, and the SQLite store wired to it. Members are destroyed store first.
// A keyring is created only beside a database that does not exist yet, or when
// `new_keyring` says so. A database whose keyring is missing (a restore that left it behind,
// a wrong --keyring) is refused: a fresh keyring would start sealing under keys that cannot
// open anything stored before, and the operator would learn it order by order.
struct OpenedStore {
  std::unique_ptr<privacy::FileKeyProvider> keys;
  std::unique_ptr<privacy::EnvelopePiiCodec> codec;
  std::unique_ptr<store::Store> store;
};
Result<OpenedStore> OpenDataDirStore(const DataDir& dir, size_t read_connections,
                                     bool new_keyring = false);

// Creates `root` (mode 0700) if needed. `keyring`, when not empty, is where the keyring file is
// (its directory must exist); otherwise it is root/keyring.json.
Result<DataDir> PrepareDataDir(const std::string& root, const std::string& keyring = "");

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
