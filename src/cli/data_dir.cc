#include "cli/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/files.h"

namespace oc::cli {

Result<DataDir> PrepareDataDir(const std::string& root, const std::string& keyring) {
  if (root.empty()) return Status::InvalidArgument("--data-dir must not be empty");
  // The keyring's path is checked before anything is created, so a wrong one leaves nothing
  // behind. Absolute, so that orderd and orderctl started from different directories agree.
  std::string keyring_path;
  if (!keyring.empty()) {
    std::error_code ec;
    auto normal = [&](const std::string& p) {
      std::filesystem::path n = std::filesystem::absolute(p, ec).lexically_normal();
      return n.has_filename() ? n : n.parent_path();  // "dir/" is dir
    };
    std::filesystem::path path = normal(keyring);
    std::filesystem::path parent = path.parent_path();
    bool parent_is_new_data_dir = parent == normal(root);
    if (ec || keyring.back() == '/' || std::filesystem::is_directory(path, ec) ||
        (!std::filesystem::is_directory(parent, ec) && !parent_is_new_data_dir)) {
      return Status::InvalidArgument(
          "--keyring " + keyring + ": must name a file (not a directory) in an existing directory");
    }
    keyring_path = path.string();
  }
  if (mkdir(root.c_str(), 0700) == 0) {
    // A new directory: its own name must survive a power cut along with what goes in it.
    OC_RETURN_IF_ERROR(SyncParentDir(root));
  } else if (errno != EEXIST) {
    return Status::IOError("create data dir " + root + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::IOError(root + " is not a directory");
  }
  return DataDir{root, keyring_path};
}

Result<OpenedStore> OpenDataDirStore(const DataDir& dir, size_t read_connections,
                                     bool new_keyring) {
  // The database first: a first start creates the keyring before the database, so an orderctl
  // running beside it never sees a database without its keyring.
  struct stat db_st {};
  bool db_has_data = false;
  if (stat(dir.DatabasePath().c_str(), &db_st) == 0) {
    db_has_data = db_st.st_size > 0;
  } else if (errno != ENOENT) {
    return Status::IOError("stat " + dir.DatabasePath() + ": " + std::strerror(errno));
  }
  struct stat keyring_st {};
  bool keyring_missing = false;
  if (stat(dir.KeyringPath().c_str(), &keyring_st) != 0) {
    if (errno != ENOENT) {
      return Status::IOError("stat " + dir.KeyringPath() + ": " + std::strerror(errno));
    }
    keyring_missing = true;
  }
  if (keyring_missing && db_has_data && !new_keyring) {
    return Status::Make(
        ErrorKind::kConflict, "keyring_missing",
        "there is no keyring at " + dir.KeyringPath() + ", but " + dir.DatabasePath() +
            " holds data sealed under one: a new keyring could not open it. Restore the "
            "keyring file that belongs to this database, or name it with --keyring (or "
            "ORDERCENTER_KEYRING). To start with a new keyring anyway, knowing that personal "
            "data stored before cannot be read again and admin keys must be issued again, "
            "start orderd once with --new-keyring");
  }
  OpenedStore out;
  OC_ASSIGN_OR_RETURN(out.keys,
                      privacy::FileKeyProvider::OpenOrCreate(dir.KeyringPath(), Random::Secure()));
  out.codec = std::make_unique<privacy::EnvelopePiiCodec>(*out.keys, Random::Secure());
  auto opened = store::OpenSqliteStore({.path = dir.DatabasePath(),
                                        .read_connections = read_connections,
                                        .pii_codec = out.codec.get(),
                                        .adopt_keyring = new_keyring});
  if (!opened.ok() && opened.status().code() == "keyring_mismatch") {
    return Status::Make(ErrorKind::kConflict, "keyring_mismatch",
                        "the keyring at " + dir.KeyringPath() + " is not the one " +
                            dir.DatabasePath() + " was sealed with: " + opened.status().detail() +
                            ". Name the right one with --keyring (or ORDERCENTER_KEYRING); to "
                            "adopt this one, knowing that personal data stored before cannot be "
                            "read again, start orderd once with --new-keyring");
  }
  if (!opened.ok()) return opened.status();
  out.store = std::move(*opened);
  return out;
}

Result<DataDirLock> DataDirLock::Acquire(const DataDir& dir) {
  int fd = open(dir.LockPath().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("open " + dir.LockPath() + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return Status::Conflict("data_dir_locked", "another orderd is already serving " + dir.root);
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace oc::cli
