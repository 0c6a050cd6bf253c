// The audit log: an append-only, hash-chained record of every PII reveal, export, admin action,
// denied access and failed authentication.
//
// Each entry's hash is SHA-256 over its own fields (seq included) and the previous entry's hash,
// so editing, deleting or reordering a row breaks the chain at that row, and VerifyAuditChain
// names it. Cutting off the tail leaves a shorter but valid chain; to catch that, the head
// (seq, hash) is also written after every durable append to a checkpoint file outside the
// database, and verification requires every checkpointed head to still be in the chain.
// Entries never hold personal data: field names, never values.
//
// AuditLog batches concurrent appends into one transaction and one fsync on its own thread
// (oc-audit). Appends that gate a response (a reveal, an export, an admin action) wait for
// durability; the rest are queued. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/store.h"

namespace oc::privacy {

// The chain rule: SHA-256 (hex) over a length-prefixed encoding of every field of `entry`,
// including seq and prev_hash. Length prefixes make the encoding unambiguous.
std::string AuditEntryHash(const store::AuditRecord& entry);

// The chain head checkpoint outside the database: one "seq hash" line per durable append,
// fdatasync'd; compacted to its newest line when it grows past a megabyte. Appends from several
// processes (orderd, orderctl) may interleave; each line stands alone.
class AuditCheckpoint {
 public:
  explicit AuditCheckpoint(std::string path) : path_(std::move(path)) {}
  Status Record(int64_t seq, const std::string& hash);
  // Every (seq, hash) ever recorded and not compacted away; empty when the file is absent.
  Result<std::vector<std::pair<int64_t, std::string>>> ReadAll() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
  int64_t recorded_seq_ = 0;
};

struct AuditVerdict {
  bool ok = true;
  int64_t entries = 0;         // entries that verified, in order, before any problem
  int64_t first_bad_seq = 0;   // 0 when ok
  std::string first_bad_id;    // the stored id of that entry, when it exists
  std::string problem;         // what is wrong, in words
  int64_t checkpoint_seq = 0;  // the newest head found in the checkpoint file
};

// Walks the whole chain in the store and checks it against the checkpoint file.
Result<AuditVerdict> VerifyAuditChain(store::Store& store, const AuditCheckpoint& checkpoint);

class AuditLog {
 public:
  AuditLog(store::Store& store, IdGenerator& ids, const Clock& clock, AuditCheckpoint& checkpoint);
  ~AuditLog();  // Stop()s
  // Writes what is queued (running its callbacks), then refuses new entries (their callbacks
  // run at once with an Unavailable status). Call it while the HTTP threads still run, so the
  // callbacks' answers can be sent.
  void Stop();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Queues `entry` (id and time are filled in when empty); `done` runs on the audit thread once
  // it is durable, or with the error that kept it from being so.
  void Append(store::AuditRecord entry, std::function<void(Status)> done = nullptr);
  // Appends and waits until durable.
  Status AppendAndWait(store::AuditRecord entry);
  // Entries that could not be written (store errors), for /metrics.
  int64_t failed() const;

 private:
  struct Pending {
    store::AuditRecord entry;
    std::function<void(Status)> done;
  };
  void Run();

  store::Store& store_;
  IdGenerator& ids_;
  const Clock& clock_;
  AuditCheckpoint& checkpoint_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool stopped_ = false;
  int64_t failed_ = 0;
  std::thread thread_;
};

}  // namespace oc::privacy
