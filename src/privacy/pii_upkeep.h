// Background upkeep of sealed personal data, with no downtime: after `orderctl keys
// rotate-master`, every order's data key is re-wrapped under the new active master key (field
// ciphertexts stay as they are, and old master keys stay in the keyring, so every row is readable
// throughout), and every other sealed value (stored idempotent answers, TOTP and webhook
// secrets, plaintext ones from before sealing included) is sealed afresh under it, so that the
// old key ends up naming nothing and can be retired (`orderctl keys retire-master`); and rows
// written before the phone blind index existed get their index.
//
// A pass walks the orders in seq order in batches and replaces each changed row with a
// compare-and-set, so a row rewritten meanwhile is simply left for the next pass; it never
// blocks the order writer for longer than one batch. PiiUpkeep runs passes on its own thread
// (oc-upkeep): one at start, then whenever the keyring file changes or a pass left work behind.
// Logs say how far it got, never what it read. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "core/status.h"
#include "privacy/field_crypto.h"
#include "store/store.h"

namespace oc::privacy {

struct PiiUpkeepReport {
  int64_t scanned = 0;
  int64_t rewrapped = 0;  // data keys moved to the active master key
  int64_t indexed = 0;    // phone blind indexes filled in
  int64_t resealed = 0;   // sealed texts (stored answers, TOTP and webhook secrets) moved too
  int64_t left = 0;       // rows that still need work (changed meanwhile, or failed)
};

Result<PiiUpkeepReport> RunPiiUpkeepPass(store::Store& store, EnvelopePiiCodec& codec,
                                         size_t batch = 200);

class PiiUpkeep {
 public:
  PiiUpkeep(store::Store& store, FileKeyProvider& keys, EnvelopePiiCodec& codec,
            std::chrono::milliseconds poll = std::chrono::seconds(1));
  ~PiiUpkeep();  // stops after the batch in hand
  PiiUpkeep(const PiiUpkeep&) = delete;
  PiiUpkeep& operator=(const PiiUpkeep&) = delete;

 private:
  void Run();

  store::Store& store_;
  FileKeyProvider& keys_;
  EnvelopePiiCodec& codec_;
  std::chrono::milliseconds poll_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace oc::privacy
