#include "integration/power_cut.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "integration/powercut_log.h"

namespace oc::itest {
namespace {

using namespace powercut;  // NOLINT: the record names

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace

PowerCutModel::PowerCutModel(std::string dir) : dir_(std::move(dir)) {
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    std::string file = entry.path().filename().string();
    // Not files a power cut is about: SQLite rebuilds the shared-memory index from the log, and
    // the lock file holds nothing.
    bool untracked =
        file == "orderd.lock" || (file.size() > 4 && file.compare(file.size() - 4, 4, "-shm") == 0);
    if (!entry.is_regular_file() || untracked) continue;
    Inode inode;
    ReadFile(entry.path().string(), &inode.data);
    inode.durable = inode.data;
    names_[file] = durable_names_[file] = inodes_.size();
    inodes_.push_back(std::move(inode));
  }
}

bool PowerCutModel::Replay(const std::string& log_path, std::string* error) {
  std::string log;
  if (!ReadFile(log_path, &log)) {
    *error = "cannot read " + log_path;
    return false;
  }
  const std::string prefix = dir_ + "/";
  auto name_of = [&](const std::string& path, std::string* name) {
    if (path.compare(0, prefix.size(), prefix) != 0) return false;
    *name = path.substr(prefix.size());
    return name->find('/') == std::string::npos && !name->empty();
  };
  size_t at = 0;
  while (at < log.size()) {
    // A record the kill cut short is the last one; what it describes did take place (it is
    // logged after the call), but leaving it out only makes the disk lose more.
    RecordHeader h{};
    if (log.size() - at < sizeof h) break;
    std::memcpy(&h, log.data() + at, sizeof h);
    at += sizeof h;
    if (log.size() - at < h.path_len + h.data_len) break;
    std::string path = log.substr(at, h.path_len);
    at += h.path_len;
    std::string_view data(log.data() + at, h.data_len);
    at += h.data_len;
    FdKey fd{h.pid, h.fd};
    std::string name;
    switch (h.type) {
      case kOpen: {
        if (path == dir_) {
          open_dirs_[fd] = true;
          break;
        }
        if (!name_of(path, &name)) {
          *error = "open of " + path + ", which is not a file directly in " + dir_;
          return false;
        }
        auto it = names_.find(name);
        if ((h.a & kCreatedBit) != 0 || it == names_.end()) {
          if ((h.a & kCreatedBit) == 0) {
            *error = "open of " + path + ", which the model never saw created";
            return false;
          }
          names_[name] = inodes_.size();
          inodes_.push_back({});
          it = names_.find(name);
        }
        open_files_[fd] = it->second;
        if ((h.a & O_TRUNC) != 0) inodes_[it->second].data.clear();
        break;
      }
      case kClose:
        open_files_.erase(fd);
        open_dirs_.erase(fd);
        break;
      case kWrite:
      case kTrunc: {
        auto it = open_files_.find(fd);
        if (it == open_files_.end()) {
          *error = "a write to a descriptor the model does not know";
          return false;
        }
        std::string& bytes = inodes_[it->second].data;
        if (h.type == kTrunc) {
          bytes.resize(h.a);
          break;
        }
        if (bytes.size() < h.a + data.size()) bytes.resize(h.a + data.size());
        bytes.replace(h.a, data.size(), data);
        ++writes_;
        break;
      }
      case kSyncBegin: {
        SyncKey key{h.pid, h.a};
        if (open_dirs_.count(fd) != 0) {
          dir_syncs_begun_[key] = names_;  // one directory: every name in it
          break;
        }
        auto it = open_files_.find(fd);
        if (it == open_files_.end()) {
          *error = "a sync of a descriptor the model does not know";
          return false;
        }
        file_syncs_[key] = {it->second, inodes_[it->second].data};
        break;
      }
      case kSync: {
        SyncKey key{h.pid, h.a};
        if (auto d = dir_syncs_begun_.find(key); d != dir_syncs_begun_.end()) {
          durable_names_ = std::move(d->second);
          dir_syncs_begun_.erase(d);
          ++dir_syncs_;
          break;
        }
        auto f = file_syncs_.find(key);
        if (f == file_syncs_.end()) {
          *error = "the end of a sync that never began";
          return false;
        }
        inodes_[f->second.first].durable = std::move(f->second.second);
        file_syncs_.erase(f);
        ++syncs_;
        break;
      }
      case kUnlink:
        if (name_of(path, &name)) names_.erase(name);
        break;
      case kRename: {
        std::string to_name;
        bool from_inside = name_of(path, &name);
        bool to_inside = name_of(std::string(data), &to_name);
        if (!from_inside || !to_inside) {
          *error = "a rename into or out of " + dir_;
          return false;
        }
        auto it = names_.find(name);
        if (it == names_.end()) {
          *error = "a rename of " + path + ", which the model does not know";
          return false;
        }
        names_[to_name] = it->second;
        names_.erase(name);
        break;
      }
      default:
        *error = "an unknown record type " + std::to_string(h.type);
        return false;
    }
  }
  return true;
}

bool PowerCutModel::WriteDurableState(std::string* error) const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.is_regular_file()) std::filesystem::remove(entry.path(), ec);
  }
  for (const auto& [name, inode] : durable_names_) {
    std::string path = dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(inodes_[inode].durable.data(),
              static_cast<std::streamsize>(inodes_[inode].durable.size()));
    if (!out) {
      *error = "cannot write " + path;
      return false;
    }
    // The keyring must stay private (orderd refuses one others can read).
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  }
  return true;
}

std::string PowerCutModel::Summary() const {
  std::string kept, lost;
  for (const auto& [name, inode] : names_) {
    auto it = durable_names_.find(name);
    std::string& list = it != durable_names_.end() && it->second == inode ? kept : lost;
    list += (list.empty() ? "" : ", ") + name;
  }
  size_t dropped = 0;  // bytes that differ between what the processes saw and the disk keeps
  for (const auto& [name, inode] : names_) {
    const Inode& in = inodes_[inode];
    size_t n = std::max(in.data.size(), in.durable.size());
    for (size_t i = 0; i < n; ++i) {
      dropped += i >= in.data.size() || i >= in.durable.size() || in.data[i] != in.durable[i];
    }
  }
  return std::to_string(writes_) + " writes, " + std::to_string(syncs_) + " file syncs, " +
         std::to_string(dropped) + " unsynced bytes dropped, " + std::to_string(dir_syncs_) +
         " directory syncs; names kept: " + kept +
         "; names lost (never synced): " + (lost.empty() ? "none" : lost);
}

}  // namespace oc::itest
