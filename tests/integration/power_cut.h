// PowerCutModel: what a disk that keeps only synced data would hold after a power cut, rebuilt
// from the log powercut_shim.cc writes. It starts from the files already in the directory (they
// survived the last cut, or were written before it was watched), replays the log in order, and
// writes back only what was made durable: each file's bytes as of its last fsync/fdatasync, and
// the directory's names as of its last fsync. A write that was never synced is lost, and so is a
// file whose name was never synced, however much of its data was.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace oc::itest {

class PowerCutModel {
 public:
  // Snapshots the regular files directly inside `dir` (an absolute path) as durable.
  explicit PowerCutModel(std::string dir);

  // Replays the shim's log. False (with `error` set) on a record the model cannot explain, such
  // as an open of a file it never saw created.
  bool Replay(const std::string& log_path, std::string* error);

  // Replaces the directory's regular files with the durable state. False on I/O errors.
  bool WriteDurableState(std::string* error) const;

  // For the report: how many writes and syncs the log held, how many bytes the cut dropped, and
  // the files kept and lost.
  std::string Summary() const;

 private:
  struct Inode {
    std::string data;     // as the process last saw it
    std::string durable;  // as of its last sync
  };
  using FdKey = std::pair<uint32_t, int32_t>;  // pid, fd

  std::string dir_;
  std::vector<Inode> inodes_;
  std::map<std::string, size_t> names_;          // the directory now (name -> inode)
  std::map<std::string, size_t> durable_names_;  // as of its last fsync
  std::map<FdKey, size_t> open_files_;
  std::map<FdKey, bool> open_dirs_;
  // Syncs begun and not yet ended, by (pid, token): the file's bytes, or the directory's names,
  // as they were at the begin; that is what the sync makes durable when it ends.
  using SyncKey = std::pair<uint32_t, uint64_t>;
  std::map<SyncKey, std::pair<size_t, std::string>> file_syncs_;
  std::map<SyncKey, std::map<std::string, size_t>> dir_syncs_begun_;
  int64_t writes_ = 0, syncs_ = 0, dir_syncs_ = 0;
};

}  // namespace oc::itest
