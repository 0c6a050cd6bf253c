#include "privacy/audit.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include "core/files.h"
#include "privacy/hashing.h"

namespace oc::privacy {
namespace {

constexpr off_t kCheckpointCompactBytes = 1 << 20;
constexpr size_t kAuditBatchMax = 512;
constexpr size_t kVerifyPage = 2000;

void AppendField(std::string* out, std::string_view v) {
  out->append(std::to_string(v.size()));
  out->push_back(':');
  out->append(v);
  out->push_back(';');
}

Status WriteAllAndSync(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("write " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fdatasync(fd) != 0)
    return Status::IOError("fdatasync " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string AuditEntryHash(const store::AuditRecord& e) {
  std::string canonical = "oc-audit-v1;";
  AppendField(&canonical, std::to_string(e.seq));
  AppendField(&canonical, e.prev_hash);
  AppendField(&canonical, e.id);
  AppendField(&canonical, std::to_string(e.at_ms));
  AppendField(&canonical, e.actor);
  AppendField(&canonical, e.role);
  AppendField(&canonical, e.ip);
  AppendField(&canonical, e.action);
  AppendField(&canonical, e.order_id);
  AppendField(&canonical, std::to_string(e.fields.size()));
  for (const auto& f : e.fields) AppendField(&canonical, f);
  AppendField(&canonical, e.detail);
  AppendField(&canonical, e.outcome);
  return Sha256Hex(canonical);
}

Status AuditCheckpoint::Record(int64_t seq, const std::string& hash) {
  std::lock_guard lock(mu_);
  if (seq <= recorded_seq_) return Status::Ok();  // a later head already covers this one
  std::string line = std::to_string(seq) + " " + hash + "\n";
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && st.st_size > kCheckpointCompactBytes) {
    // Keep only the newest head: write it to a new file and rename it over the old one. The
    // temporary name is per process: orderd and orderctl may compact at once.
    std::string tmp = path_ + ".tmp." + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IOError("open " + tmp + ": " + std::strerror(errno));
    Status s = WriteAllAndSync(fd, line, tmp);
    ::close(fd);
    if (!s.ok()) return s;
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
      return Status::IOError("rename " + tmp + ": " + std::strerror(errno));
    }
    OC_RETURN_IF_ERROR(SyncParentDir(path_));
    recorded_seq_ = seq;
    return Status::Ok();
  }
  bool created = ::access(path_.c_str(), F_OK) != 0;
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("open " + path_ + ": " + std::strerror(errno));
  Status s = WriteAllAndSync(fd, line, path_);
  ::close(fd);
  if (s.ok() && created) s = SyncParentDir(path_);
  if (s.ok()) recorded_seq_ = seq;
  return s;
}

Result<std::vector<std::pair<int64_t, std::string>>> AuditCheckpoint::ReadAll() const {
  std::vector<std::pair<int64_t, std::string>> out;
  std::ifstream in(path_);
  if (!in) {
    if (errno == ENOENT) return out;
    return Status::IOError("cannot read the audit checkpoint " + path_);
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int64_t seq = 0;
    std::string hash;
    if (in.eof()) break;  // no newline: a torn last line
    if (!(fields >> seq >> hash) || seq <= 0 || !IsHex64(hash)) continue;
    out.emplace_back(seq, hash);
  }
  return out;
}

Result<AuditVerdict> VerifyAuditChain(store::Store& store, const AuditCheckpoint& checkpoint) {
  AuditVerdict v;
  OC_ASSIGN_OR_RETURN(auto heads, checkpoint.ReadAll());
  std::unordered_map<int64_t, std::string> expected;
  for (const auto& [seq, hash] : heads) {
    expected[seq] = hash;
    v.checkpoint_seq = std::max(v.checkpoint_seq, seq);
  }
  auto bad = [&](int64_t seq, std::string id, std::string problem) {
    v.ok = false;
    v.first_bad_seq = seq;
    v.first_bad_id = std::move(id);
    v.problem = std::move(problem);
    return v;
  };
  int64_t prev_seq = 0;
  std::string prev_hash;
  while (true) {
    OC_ASSIGN_OR_RETURN(auto page, store.ReadAuditChain(prev_seq, kVerifyPage));
    if (page.empty()) break;
    for (const auto& e : page) {
      if (e.seq != prev_seq + 1) {
        return bad(prev_seq + 1, "",
                   "entry " + std::to_string(prev_seq + 1) + " is missing (the next stored is " +
                       std::to_string(e.seq) + ")");
      }
      if (e.prev_hash != prev_hash) {
        return bad(e.seq, e.id,
                   "entry " + std::to_string(e.seq) +
                       " does not follow the entry before it (removed, reordered or edited)");
      }
      if (AuditEntryHash(e) != e.hash) {
        return bad(e.seq, e.id, "entry " + std::to_string(e.seq) + " was altered");
      }
      if (auto it = expected.find(e.seq); it != expected.end() && it->second != e.hash) {
        return bad(e.seq, e.id,
                   "entry " + std::to_string(e.seq) +
                       " differs from the head checkpointed outside the database (the chain "
                       "was rewritten)");
      }
      prev_seq = e.seq;
      prev_hash = e.hash;
      ++v.entries;
    }
  }
  if (heads.empty() && prev_seq > 0) {
    return bad(1, "",
               "the chain has " + std::to_string(prev_seq) + " entries but the checkpoint file " +
                   checkpoint.path() + " is missing: its tail cannot be vouched for");
  }
  if (v.checkpoint_seq > prev_seq) {
    return bad(prev_seq + 1, "",
               "the chain ends at entry " + std::to_string(prev_seq) + " but entry " +
                   std::to_string(v.checkpoint_seq) + " was checkpointed: the tail was cut off");
  }
  return v;
}

AuditLog::AuditLog(store::Store& store, IdGenerator& ids, const Clock& clock,
                   AuditCheckpoint& checkpoint)
    : store_(store), ids_(ids), clock_(clock), checkpoint_(checkpoint) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "oc-audit");
    Run();
  });
}

AuditLog::~AuditLog() { Stop(); }

void AuditLog::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
}

void AuditLog::Append(store::AuditRecord entry, std::function<void(Status)> done) {
  if (entry.id.empty()) entry.id = ids_.Next("aud");
  if (entry.at_ms == 0) entry.at_ms = clock_.NowUnixMs();
  {
    std::unique_lock lock(mu_);
    if (stopping_) {
      lock.unlock();
      if (done) done(Status::Unavailable("the audit log is stopped"));
      return;
    }
    queue_.push_back(Pending{std::move(entry), std::move(done)});
  }
  cv_.notify_one();
}

Status AuditLog::AppendAndWait(store::AuditRecord entry) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  Append(std::move(entry), [promise](Status s) { promise->set_value(std::move(s)); });
  return future.get();
}

int64_t AuditLog::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

void AuditLog::Run() {
  while (true) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is written
      while (!queue_.empty() && batch.size() < kAuditBatchMax) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<store::AuditRecord> entries;
    entries.reserve(batch.size());
    for (auto& p : batch) entries.push_back(std::move(p.entry));
    Status s = store_.AppendAudit(&entries, AuditEntryHash);
    if (s.ok()) s = checkpoint_.Record(entries.back().seq, entries.back().hash);
    if (!s.ok()) {
      std::lock_guard lock(mu_);
      failed_ += static_cast<int64_t>(batch.size());
    }
    for (auto& p : batch) {
      if (p.done) p.done(s);
    }
  }
}

}  // namespace oc::privacy
