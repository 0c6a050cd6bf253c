#include "privacy/pii_upkeep.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

namespace oc::privacy {

namespace {

Status ResealTexts(store::Store& store, EnvelopePiiCodec& codec, size_t batch,
                   PiiUpkeepReport* report) {
  OC_ASSIGN_OR_RETURN(std::string active, codec.ActiveMasterId());
  for (store::SealedTextPlace place : store::kSealedTextPlaces) {
    std::string after_key, after_key2;
    while (true) {
      OC_ASSIGN_OR_RETURN(auto rows,
                          store.ScanSealedTexts(place, active, after_key, after_key2, batch));
      if (rows.empty()) break;
      after_key = rows.back().key;
      after_key2 = rows.back().key2;
      std::vector<store::SealedTextUpdate> updates;
      for (auto& row : rows) {
        ++report->scanned;
        auto resealed = codec.ResealText(row.context, row.stored);
        if (!resealed.ok()) {
          // Where and why only: never the value.
          spdlog::error("pii upkeep: {} {}: {}", ToString(place), row.key,
                        resealed.status().ToString());
          ++report->left;
          continue;
        }
        if (!*resealed) continue;  // sealed under the active key since the scan
        updates.push_back(store::SealedTextUpdate{std::move(row), std::move(**resealed)});
      }
      auto replaced = store.ReplaceSealedTexts(updates);
      // A value stored before sealing existed is a secret in the clear: not kept in memory.
      for (auto& row : rows) OPENSSL_cleanse(row.stored.data(), row.stored.size());
      for (auto& u : updates) OPENSSL_cleanse(u.row.stored.data(), u.row.stored.size());
      OC_RETURN_IF_ERROR(replaced.status());
      report->resealed += *replaced;
      report->left += static_cast<int64_t>(updates.size()) - *replaced;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<PiiUpkeepReport> RunPiiUpkeepPass(store::Store& store, EnvelopePiiCodec& codec,
                                         size_t batch) {
  PiiUpkeepReport report;
  int64_t after = 0;
  while (true) {
    OC_ASSIGN_OR_RETURN(auto rows, store.ScanSealedPii(after, batch));
    if (rows.empty()) break;
    std::vector<store::SealedPiiUpdate> updates;
    int64_t rewraps = 0, indexes = 0;
    for (auto& row : rows) {
      after = row.seq;
      ++report.scanned;
      auto rewrapped = codec.Rewrap(row.order_id, row.sealed);
      if (!rewrapped.ok()) {
        // The order id and the reason only: never the data.
        spdlog::error("pii upkeep: order {}: {}", row.order_id, rewrapped.status().ToString());
        ++report.left;
        continue;
      }
      store::SealedPiiUpdate u;
      u.seq = row.seq;
      u.expected_sealed = row.sealed;
      u.sealed = rewrapped->value_or(row.sealed);
      if (!row.has_phone_index) {
        Order o;
        o.id = row.order_id;
        Status opened = codec.Open(row.sealed, &o);
        if (!opened.ok()) {
          spdlog::error("pii upkeep: order {}: {}", row.order_id, opened.ToString());
          ++report.left;
          continue;
        }
        u.phone_index = codec.PhoneIndex(o.customer.phone);
        WipePii(&o);
      }
      if (!*rewrapped && !u.phone_index) continue;
      rewraps += *rewrapped ? 1 : 0;
      indexes += u.phone_index ? 1 : 0;
      updates.push_back(std::move(u));
    }
    OC_ASSIGN_OR_RETURN(int64_t replaced, store.ReplaceSealedPii(updates));
    if (replaced == static_cast<int64_t>(updates.size())) {
      report.rewrapped += rewraps;
      report.indexed += indexes;
    } else {
      // Some rows changed under us; the next pass looks at them again.
      report.left += static_cast<int64_t>(updates.size()) - replaced;
    }
  }
  OC_RETURN_IF_ERROR(ResealTexts(store, codec, batch, &report));
  return report;
}

PiiUpkeep::PiiUpkeep(store::Store& store, FileKeyProvider& keys, EnvelopePiiCodec& codec,
                     std::chrono::milliseconds poll)
    : store_(store), keys_(keys), codec_(codec), poll_(poll) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "oc-upkeep");
    Run();
  });
}

PiiUpkeep::~PiiUpkeep() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PiiUpkeep::Run() {
  using Clock = std::chrono::steady_clock;
  // A pass at start: rows from before an upgrade, or a rotation while orderd was down.
  Clock::time_point next_pass = Clock::now();
  // Rows that keep failing (a master key missing from the keyring, say) must not turn into a
  // full scan every second: passes that make no progress back off, up to five minutes.
  std::chrono::milliseconds backoff = poll_;
  constexpr std::chrono::milliseconds kBackoffMax = std::chrono::minutes(5);
  // Orders sealed on HTTP threads just before the keyring reload can land after the pass that
  // followed it: one more pass a little later picks them up.
  constexpr std::chrono::seconds kFollowUp{5};
  bool follow_up_due = false;
  while (true) {
    if (Clock::now() >= next_pass) {
      next_pass = Clock::time_point::max();
      auto report = RunPiiUpkeepPass(store_, codec_);
      if (!report.ok()) {
        spdlog::error("pii upkeep pass failed: {}", report.status().ToString());
      } else {
        if (report->rewrapped > 0 || report->indexed > 0 || report->resealed > 0 ||
            report->left > 0) {
          spdlog::info(
              "pii upkeep: {} rows scanned, {} data keys re-wrapped and {} sealed values resealed "
              "under master key {}, {} phone indexes filled, {} left for the next pass",
              report->scanned, report->rewrapped, report->resealed, keys_.active_id(),
              report->indexed, report->left);
        }
      }
      bool progress =
          report.ok() && (report->rewrapped > 0 || report->indexed > 0 || report->resealed > 0);
      if (!report.ok() || report->left > 0) {
        backoff = progress ? poll_ : std::min(backoff * 2, kBackoffMax);
        next_pass = Clock::now() + backoff;
      } else {
        backoff = poll_;
      }
      if (follow_up_due) {
        follow_up_due = false;
        next_pass = std::min(next_pass, Clock::now() + kFollowUp);
      }
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, poll_, [&] { return stopping_; })) return;
    lock.unlock();
    auto changed = keys_.ReloadIfChanged();
    if (!changed.ok()) {
      spdlog::error("keyring reload failed: {}", changed.status().ToString());
    } else if (*changed) {
      spdlog::info("keyring changed: the active master key is now {}", keys_.active_id());
      next_pass = Clock::now();
      follow_up_due = true;
    }
  }
}

}  // namespace oc::privacy
