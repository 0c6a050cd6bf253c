#include "orders/order_writer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <limits>

#include "core/json.h"
#include "orders/permissions.h"

namespace oc::orders {
namespace {

size_t Index(OrderStatus s) { return static_cast<size_t>(s); }

// Checked after permissions, so a caller without the right learns nothing from a version.
Status CheckVersion(const Order& o, const std::optional<int64_t>& expected_version) {
  if (expected_version && *expected_version != o.version) {
    return Status::Conflict("version_conflict",
                            "expected version " + std::to_string(*expected_version) +
                                " but the order is at version " + std::to_string(o.version));
  }
  return Status::Ok();
}

// Refusals decided by the rules, not by a failing machine: these are answers, worth recording.
bool IsBusinessRefusal(const Status& s) {
  switch (s.kind()) {
    case ErrorKind::kInvalidArgument:
    case ErrorKind::kUnprocessable:
    case ErrorKind::kPermissionDenied:
    case ErrorKind::kNotFound:
    case ErrorKind::kConflict:
      return true;
    default:
      return false;
  }
}

// Holds expired per sweep; a longer backlog is taken over the next batches.
constexpr size_t kExpireBatchMax = 1000;

// The writer's own principal, for the commands it issues itself (expiring holds).
Principal SystemPrincipal() {
  Principal p;
  p.id = "system";
  p.name = "orderd";
  p.role = Role::kAdmin;
  return p;
}

// Whether applying `c` looks holds up in the store.
bool ReadsHolds(const Command& c) {
  if (std::holds_alternative<ReleaseReservation>(c.action)) return true;
  if (std::holds_alternative<ExpireReservations>(c.action)) return true;
  const auto* create = std::get_if<CreateOrder>(&c.action);
  return create != nullptr && !create->order.reservation_id.empty();
}

std::vector<inventory::StockLine> StockLinesOf(const std::vector<store::HeldLine>& held) {
  std::vector<inventory::StockLine> out;
  out.reserve(held.size());
  for (const auto& l : held) out.push_back({l.sku, l.qty});
  return out;
}

}  // namespace

Result<std::unique_ptr<OrderWriter>> OrderWriter::Start(store::Store& store, const Clock& clock,
                                                        IdGenerator& ids, WriterOptions options) {
  std::unique_ptr<OrderWriter> w(new OrderWriter(store, clock, ids, options));
  OC_ASSIGN_OR_RETURN(auto counts, store.CountOrdersByStatus());
  for (const auto& [status, n] : counts) w->status_counts_[Index(status)] = n;
  OC_ASSIGN_OR_RETURN(auto stock, store.LoadStock());
  for (const auto& r : stock) {
    w->inventory_.Restore(
        r.sku, inventory::StockLevel{r.on_hand, r.safety_buffer, r.reserved, r.sold, r.oversold});
  }
  OC_ASSIGN_OR_RETURN(auto expiries, store.ActiveReservationExpiries());
  w->hold_expiries_ = decltype(w->hold_expiries_)(std::greater<>(), std::move(expiries));
  w->NoteNextHoldExpiry();
  OC_ASSIGN_OR_RETURN(int64_t max_no, store.MaxReservationNo());
  w->next_hold_no_ = max_no + 1;
  for (auto& pass : w->retention_)
    pass.next_ms = clock.NowUnixMs() + kHoldPurgePassInterval.count();
  // Holds that expired while the server was down go back before the first buyer is served.
  OC_RETURN_IF_ERROR(w->ExpireHoldsAtStart());
  w->syncer_ = std::thread([raw = w.get()] {
    pthread_setname_np(pthread_self(), "oc-syncer");
    raw->RunSyncer();
  });
  w->thread_ = std::thread([raw = w.get()] {
    pthread_setname_np(pthread_self(), "oc-writer");
    raw->Run();
  });
  return w;
}

OrderWriter::OrderWriter(store::Store& store, const Clock& clock, IdGenerator& ids,
                         WriterOptions options)
    : store_(store), clock_(clock), ids_(ids), options_(options) {}

OrderWriter::~OrderWriter() { Stop(); }

Status OrderWriter::Submit(Command&& command, Completion done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("the server is shutting down");
    if (failed_) {
      return Status::Unavailable("storage failed to sync; writes are stopped until a restart");
    }
    if (queue_.size() >= kQueueDepthMax) {
      return Status::Unavailable("the write queue is full; retry shortly");
    }
    queue_.emplace_back(std::move(command), std::move(done));
  }
  cv_.notify_one();
  return Status::Ok();
}

void OrderWriter::Stop() {
  std::lock_guard stop_lock(stop_mu_);  // concurrent Stop() calls must not both join
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(sync_mu_);
    writer_done_ = true;
  }
  sync_cv_.notify_one();
  if (syncer_.joinable()) syncer_.join();
}

std::array<int64_t, 9> OrderWriter::OrderCountsByStatus() const {
  std::array<int64_t, 9> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = status_counts_[i].load();
  return out;
}

Status OrderWriter::ExpireHoldsAtStart() {
  // However many fell due while the server was down, all of them: a buyer served after start
  // must not be refused stock that only a hold past its time still takes. One sweep takes up
  // to kExpireBatchMax, each in its own transaction, and one sync makes them all durable.
  int64_t released = 0;
  while (HoldsDue()) {
    OC_ASSIGN_OR_RETURN(auto txn, store_.BeginWrite());
    BeginBatch();
    auto expired = ApplyExpireReservations(*txn);
    Status s = expired.ok() ? PersistTouchedStock(*txn) : expired.status();
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) {
      RollbackBatch();
      return s;
    }
    EndBatch();
    released += expired->expired;
  }
  if (released == 0) return Status::Ok();
  spdlog::info("released {} checkout holds that expired while orderd was stopped", released);
  return store_.Sync();
}

Status OrderWriter::ExpireHolds(Completion done) {
  return Submit(Command{ExpireReservations{}, SystemPrincipal(), std::nullopt}, std::move(done));
}

std::chrono::milliseconds OrderWriter::IdleWait() const {
  // A retention pass under way goes on at its own pace while nothing else comes in.
  std::chrono::milliseconds wait = options_.hold_check_interval;
  if (failed_) return wait;
  for (size_t t = 0; t < kRetainedTables; ++t) {
    if (!retention_[t].running) continue;  // only a step, hence a retention, sets it
    auto until_step =
        std::chrono::milliseconds(std::max<int64_t>(retention_[t].next_ms - clock_.NowUnixMs(), 1));
    wait = std::min(wait, until_step);
  }
  return wait;
}

Status OrderWriter::RunRetentionStep(RetainedTable table, Completion done) {
  return Submit(Command{RetentionStep{table}, SystemPrincipal(), std::nullopt}, std::move(done));
}

size_t OrderWriter::QueueDepth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void OrderWriter::Run() {
  std::vector<Pending> batch;
  batch.reserve(kBatchSizeMax);
  while (true) {
    {
      std::unique_lock lock(mu_);
      loop_turns_.fetch_add(1, std::memory_order_relaxed);
      auto has_work = [&] { return stopping_ || !queue_.empty(); };
      if (!HoldsDue() && !PurgeDue()) cv_.wait_for(lock, IdleWait(), has_work);
      if (stopping_ && queue_.empty()) return;  // drained
      while (!queue_.empty() && batch.size() < kBatchSizeMax) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (PurgeDue()) {
      // A batch of its own, so that a step that fails takes no buyer's command with it; one
      // command per due table, so that one table's failing step (taken out of the batch, which
      // runs again without it) leaves the other's. Due again a step later even if it fails, so
      // a failing store is not looped on.
      std::vector<Pending> purge;
      for (size_t t = 0; t < kRetainedTables; ++t) {
        auto table = static_cast<RetainedTable>(t);
        if (!RetentionDue(table)) continue;
        retention_[t].next_ms = clock_.NowUnixMs() + kHoldPurgeStepInterval.count();
        purge.push_back(Pending{Command{RetentionStep{table}, SystemPrincipal(), std::nullopt},
                                [this](Result<CommandOutcome>&& r) {
                                  if (!r.ok()) {
                                    purge_failures_.fetch_add(1);
                                    spdlog::warn("retention step failed: {}",
                                                 r.status().ToString());
                                  }
                                }});
      }
      ApplyBatch(purge);
    }
    if (HoldsDue()) {
      // First in the batch, so stock coming back is there for the buyers behind it.
      batch.insert(batch.begin(),
                   Pending{Command{ExpireReservations{}, SystemPrincipal(), std::nullopt},
                           [](Result<CommandOutcome>) {}});
    }
    if (batch.empty()) continue;
    ApplyBatch(batch);
    batch.clear();
  }
}

void OrderWriter::FailAll(std::vector<Pending>& batch, const Status& status) {
  for (auto& p : batch) p.done(status);
}

void OrderWriter::BeginBatch() {
  inventory_.BeginBatch();
  expiries_taken_in_batch_.clear();
}

void OrderWriter::EndBatch() {
  inventory_.EndBatch();
  expiries_taken_in_batch_.clear();
}

void OrderWriter::RollbackBatch() {
  inventory_.RollbackBatch();
  for (const HoldDue& d : expiries_taken_in_batch_) hold_expiries_.push(d);
  expiries_taken_in_batch_.clear();
}

void OrderWriter::NoteNextHoldExpiry() {
  next_hold_expiry_ms_ =
      hold_expiries_.empty() ? std::numeric_limits<int64_t>::max() : hold_expiries_.top().first;
}

void OrderWriter::ForgetHoldExpiry() {
  // Whatever the failed batch learnt about holds is void; look again soon, but not in a loop
  // against a failing store.
  next_hold_expiry_ms_ = clock_.NowUnixMs() + options_.hold_check_interval.count();
}

void OrderWriter::ApplyBatch(std::vector<Pending>& batch) {
  // Commands whose writes failed half-way (an I/O error or a broken invariant, never a business
  // refusal, which happens before any write): the batch is rolled back and re-run without them.
  std::vector<std::optional<Status>> poisoned(batch.size());
  while (true) {
    if (failed_) {
      // After a failed fsync nothing more is committed: it could become visible, and even
      // durable, while its client is told it failed.
      ForgetHoldExpiry();
      FailAll(batch,
              Status::Unavailable("storage failed to sync; writes are stopped until a restart"));
      return;
    }
    Committed c;
    c.results.reserve(batch.size());
    size_t holds_written = 0;  // results before this one have had their new holds written
    auto txn_or = store_.BeginWrite();
    if (!txn_or.ok()) {
      ForgetHoldExpiry();
      FailAll(batch, txn_or.status());
      return;
    }
    store::WriteTransaction& txn = **txn_or;
    BeginBatch();
    bool retry = false;
    for (size_t i = 0; i < batch.size() && !retry; ++i) {
      if (poisoned[i]) {
        c.results.emplace_back(*poisoned[i]);
        continue;
      }
      if (holds_written < c.results.size() && ReadsHolds(batch[i].command)) {
        // The holds placed earlier in this batch reach the table before anything looks one up
        // (outside the command's own writes: they are not its to fail).
        Status flushed = InsertNewHolds(txn, c.results, &holds_written);
        if (!flushed.ok()) {
          RollbackBatch();
          ForgetHoldExpiry();
          FailAll(batch, Status::IOError("nothing was written: " + flushed.detail()));
          return;
        }
      }
      int64_t changes_before = txn.writes() + inventory_.mutations();
      Result<CommandOutcome> r = Apply(txn, batch[i].command);
      if (!r.ok() && txn.lost()) {
        // The database gave the transaction up (disk full, I/O error): nothing of the batch is
        // written, and nothing more may run on it.
        RollbackBatch();
        ForgetHoldExpiry();
        FailAll(batch, Status::IOError("nothing was written: " + r.status().detail()));
        return;
      }
      if (!r.ok() && txn.writes() + inventory_.mutations() != changes_before) {
        poisoned[i] = r.status();
        retry = true;  // `txn` rolls back when it goes out of scope; the stock journal here
        RollbackBatch();
        ForgetHoldExpiry();
        break;
      }
      if (r.ok() && !r->replay && !r->refusal && r->order) {  // holds are not orders
        if (r->created) ++c.status_delta[Index(r->order->status)];
        if (r->previous_status) {
          --c.status_delta[Index(*r->previous_status)];
          ++c.status_delta[Index(r->order->status)];
        }
      }
      c.results.push_back(std::move(r));
    }
    if (retry) continue;
    // A failure from here on cannot be pinned on one command: the whole batch fails.
    Status committed = InsertNewHolds(txn, c.results, &holds_written);
    if (committed.ok()) committed = PersistTouchedStock(txn);
    if (committed.ok()) committed = txn.Commit();
    if (committed.ok()) {
      EndBatch();
    } else {
      RollbackBatch();
      ForgetHoldExpiry();
      // Nothing of this batch was written (stock included); refusals computed inside it stand.
      for (auto& r : c.results) {
        if (r.ok())
          r = Status::IOError("commit failed; nothing was written: " + committed.detail());
      }
      c.status_delta = {};
    }
    c.done.reserve(batch.size());
    for (auto& p : batch) c.done.push_back(std::move(p.done));
    {
      std::lock_guard lock(sync_mu_);
      unsynced_commands_ += c.done.size();
      committed_.push_back(std::move(c));
    }
    sync_cv_.notify_one();
    return;
  }
}

void OrderWriter::RunSyncer() {
  std::vector<Committed> ready;
  while (true) {
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return writer_done_ || !committed_.empty(); });
      if (committed_.empty()) return;  // the writer has stopped and everything is answered
      if (RequestsOutsideGroup() >= static_cast<int64_t>(kGroupWaitOthersMin)) {
        WaitForFullerGroup(lock);
      }
      unsynced_commands_ = 0;
      while (!committed_.empty()) {
        ready.push_back(std::move(committed_.front()));
        committed_.pop_front();
      }
    }
    // One fsync for every batch committed so far.
    Status synced = failed_ ? Status::IOError("an earlier fsync failed") : store_.Sync();
    if (!synced.ok()) failed_ = true;
    for (auto& c : ready) Complete(c, synced);
    if (synced.ok() && options_.on_durable) options_.on_durable();
    ready.clear();
  }
}

int64_t OrderWriter::RequestsOutsideGroup() const {
  if (options_.requests_in_flight == nullptr) return 0;
  return options_.requests_in_flight->Read() - static_cast<int64_t>(unsynced_commands_);
}

void OrderWriter::WaitForFullerGroup(std::unique_lock<std::mutex>& lock) {
  const auto deadline = std::chrono::steady_clock::now() + kGroupWaitMax;
  while (!writer_done_ && unsynced_commands_ < kGroupCommandsTarget &&
         RequestsOutsideGroup() >= static_cast<int64_t>(kGroupWaitOthersMin)) {
    if (sync_cv_.wait_until(lock, deadline) == std::cv_status::timeout) return;
  }
}

void OrderWriter::Complete(Committed& c, const Status& sync_status) {
  if (sync_status.ok()) {
    for (size_t i = 0; i < c.status_delta.size(); ++i) status_counts_[i] += c.status_delta[i];
    batches_committed_.fetch_add(1);
    for (const auto& r : c.results) {
      if (!r.ok()) continue;
      if (r->purged > 0) holds_purged_.fetch_add(r->purged);
      if (r->idempotency_purged > 0) idempotency_purged_.fetch_add(r->idempotency_purged);
    }
  }
  for (size_t i = 0; i < c.done.size(); ++i) {
    if (!sync_status.ok() && c.results[i].ok()) {
      c.results[i] = Status::IOError("the write may not be durable: " + sync_status.detail());
    }
    c.done[i](std::move(c.results[i]));
  }
}

Result<CommandOutcome> OrderWriter::Apply(store::WriteTransaction& txn, Command& command) {
  if (command.idempotency) {
    const Idempotency& idem = *command.idempotency;
    OC_ASSIGN_OR_RETURN(auto existing, txn.FindIdempotency(idem.principal_id, idem.key));
    if (existing) {
      // An empty stored fingerprint is from before schema 12: the first answer is replayed.
      if (!existing->request_hash.empty() && existing->request_hash != idem.request_hash) {
        return Status::Unprocessable(
            "this Idempotency-Key was already used with a different request",
            "idempotency_key_reused");
      }
      CommandOutcome replay;
      replay.replay = std::move(*existing);
      return replay;
    }
  }
  Result<CommandOutcome> r = std::visit(
      [&](auto& action) -> Result<CommandOutcome> {
        using T = std::decay_t<decltype(action)>;
        if constexpr (std::is_same_v<T, CreateOrder>) {
          return ApplyCreate(txn, command.actor, action);
        } else if constexpr (std::is_same_v<T, Transition>) {
          return ApplyTransition(txn, command.actor, action);
        } else if constexpr (std::is_same_v<T, Assign>) {
          return ApplyAssign(txn, command.actor, action);
        } else if constexpr (std::is_same_v<T, SetStock>) {
          return ApplySetStock(txn, command.actor, action);
        } else if constexpr (std::is_same_v<T, CreateReservation>) {
          return ApplyCreateReservation(command.actor, action);
        } else if constexpr (std::is_same_v<T, ReleaseReservation>) {
          return ApplyReleaseReservation(txn, command.actor, action);
        } else if constexpr (std::is_same_v<T, ExpireReservations>) {
          return ApplyExpireReservations(txn);
        } else {
          static_assert(std::is_same_v<T, RetentionStep>);
          return ApplyRetentionStep(txn, action.table);
        }
      },
      command.action);
  if (!command.idempotency) return r;
  const Idempotency& idem = *command.idempotency;
  if (r.ok()) {
    store::IdempotencyRecord record = idem.render(*r);
    record.request_hash = idem.request_hash;
    OC_RETURN_IF_ERROR(txn.PutIdempotency(idem.principal_id, idem.key, record, clock_.NowUnixMs()));
    return r;
  }
  if (IsBusinessRefusal(r.status()) && idem.render_refusal) {
    // The refusal is the first response to this key: record it, so a retry cannot turn into
    // a different outcome later.
    store::IdempotencyRecord record = idem.render_refusal(r.status());
    record.request_hash = idem.request_hash;
    OC_RETURN_IF_ERROR(txn.PutIdempotency(idem.principal_id, idem.key, record, clock_.NowUnixMs()));
    CommandOutcome refused;
    refused.refusal = r.status();
    return refused;
  }
  return r;
}

Result<CommandOutcome> OrderWriter::ApplyCreate(store::WriteTransaction& txn,
                                                const Principal& actor, const CreateOrder& create) {
  // A copy: the command must stay intact in case the batch is re-run.
  Order o = create.order;
  OC_RETURN_IF_ERROR(CheckMayCreate(actor, o));
  OC_ASSIGN_OR_RETURN(auto existing_id, txn.FindOrderIdByChannelRef(o.channel, o.channel_order_id));
  if (existing_id) {
    OC_ASSIGN_OR_RETURN(auto existing, txn.FindOrder(*existing_id));
    if (!existing) return Status::Internal("order index points at a missing order");
    CommandOutcome out;
    out.order = std::make_unique<Order>(std::move(*existing));
    out.created = false;
    return out;
  }
  int64_t now = clock_.NowUnixMs();
  std::optional<store::ReservationRecord> hold;
  if (!o.reservation_id.empty()) {
    OC_ASSIGN_OR_RETURN(hold, LoadHoldToConvert(txn, actor, o));
  }
  // All lines or none, before anything is written: a refusal leaves no trace (and leaves the
  // hold being converted in place).
  std::vector<inventory::StockLine> stock_lines;
  stock_lines.reserve(o.lines.size());
  for (const OrderLine& l : o.lines) stock_lines.push_back({l.sku, l.qty});
  std::vector<inventory::StockLine> releasing;
  if (hold) releasing = StockLinesOf(hold->lines);
  OC_ASSIGN_OR_RETURN(auto shortfall,
                      inventory_.Reserve(stock_lines, {releasing, create.accept_oversell}));
  if (o.id.empty()) o.id = ids_.Next("ord");
  o.status = OrderStatus::kPendingPayment;
  o.version = 1;
  o.created_at_ms = now;
  o.updated_at_ms = now;
  o.created_by = actor.id;
  if (!shortfall.empty()) o.risk_flags.push_back("oversold");
  OC_RETURN_IF_ERROR(txn.InsertOrder(o));
  OC_RETURN_IF_ERROR(AppendEvent(txn, o, "order.created", std::nullopt));
  if (!shortfall.empty()) {
    store::OversoldRecord record{o.id, o.currency, {}, now, {}, {}, o.status};
    std::string lines_json = ",\"lines\":[";
    for (const inventory::StockLine& s : shortfall) {
      int64_t unit_price = 0;
      for (const OrderLine& l : o.lines) {
        if (l.sku == s.sku) {
          unit_price = l.unit_price;
          break;
        }
      }
      record.lines.push_back({s.sku, s.qty, unit_price});
      if (lines_json.back() != '[') lines_json += ',';
      lines_json += "{\"sku\":";
      json::AppendQuoted(&lines_json, s.sku);
      lines_json += ",\"qty_short\":" + std::to_string(s.qty) + "}";
    }
    lines_json += ']';
    OC_RETURN_IF_ERROR(txn.InsertOversold(record));
    OC_RETURN_IF_ERROR(AppendEvent(txn, o, "inventory.oversold", std::nullopt, lines_json));
  }
  if (hold) {
    hold->state = store::ReservationState::kConverted;
    hold->order_id = o.id;
    hold->updated_at_ms = now;
    OC_RETURN_IF_ERROR(txn.UpdateReservation(*hold));
  }
  CommandOutcome out;
  out.order = std::make_unique<Order>(std::move(o));
  out.created = true;
  return out;
}

Result<store::ReservationRecord> OrderWriter::LoadHoldToConvert(store::WriteTransaction& txn,
                                                                const Principal& actor,
                                                                const Order& o) {
  OC_ASSIGN_OR_RETURN(auto hold, txn.FindReservation(o.reservation_id));
  if (!hold || !HoldInScope(actor, *hold)) {
    return Status::Unprocessable("field 'reservation_id': no such reservation",
                                 "reservation_not_found");
  }
  switch (hold->state) {
    case store::ReservationState::kConverted:
      return Status::Conflict(
          "reservation_converted",
          "reservation " + hold->id + " already became order " + hold->order_id);
    case store::ReservationState::kReleased:
      return Status::Conflict("reservation_released", "reservation " + hold->id + " was released");
    case store::ReservationState::kExpired:
      return Status::Conflict("reservation_expired", "reservation " + hold->id + " expired");
    case store::ReservationState::kActive:
      break;
  }
  // Due but not swept yet: as expired as if it had been (the sweep will give its stock back).
  if (hold->expires_at_ms <= clock_.NowUnixMs()) {
    return Status::Conflict("reservation_expired", "reservation " + hold->id + " expired");
  }
  return std::move(*hold);
}

Result<Order> OrderWriter::LoadInScope(store::WriteTransaction& txn, const Principal& actor,
                                       const std::string& order_id) {
  OC_ASSIGN_OR_RETURN(auto found, txn.FindOrder(order_id));
  if (!found) return Status::NotFound("order not found");
  if (actor.role == Role::kChannel && found->channel != actor.channel) {
    return Status::NotFound("order not found");
  }
  if (actor.role == Role::kCustomerService && found->assigned_agent != actor.id) {
    return Status::NotFound("order not found");
  }
  return std::move(*found);
}

Result<CommandOutcome> OrderWriter::ApplyTransition(store::WriteTransaction& txn,
                                                    const Principal& actor, const Transition& t) {
  OC_ASSIGN_OR_RETURN(Order o, LoadInScope(txn, actor, t.order_id));
  OC_RETURN_IF_ERROR(CheckMayTransition(actor, o, t.to));
  OC_RETURN_IF_ERROR(CheckVersion(o, t.expected_version));
  if (!CanTransition(o.status, t.to, o.refund_origin)) {
    return Status::Conflict("invalid_transition",
                            "an order in '" + std::string(ToString(o.status)) +
                                "' cannot move to '" + std::string(ToString(t.to)) + "'");
  }
  OC_RETURN_IF_ERROR(ApplyStockEffect(o, t.to));
  OrderStatus previous = o.status;
  if (t.to == OrderStatus::kRefunding) {
    o.refund_origin = o.status;
  } else if (o.status == OrderStatus::kRefunding) {
    o.refund_origin.reset();
  }
  o.status = t.to;
  o.version += 1;
  o.updated_at_ms = clock_.NowUnixMs();
  OC_RETURN_IF_ERROR(txn.UpdateOrder(o));
  OC_RETURN_IF_ERROR(AppendEvent(txn, o, "order.status_changed", previous));
  CommandOutcome out;
  out.order = std::make_unique<Order>(std::move(o));
  out.previous_status = previous;
  return out;
}

Result<CommandOutcome> OrderWriter::ApplyAssign(store::WriteTransaction& txn,
                                                const Principal& actor, const Assign& a) {
  OC_RETURN_IF_ERROR(CheckMayAssign(actor));
  OC_ASSIGN_OR_RETURN(Order o, LoadInScope(txn, actor, a.order_id));
  OC_RETURN_IF_ERROR(CheckVersion(o, a.expected_version));
  OC_ASSIGN_OR_RETURN(auto agent, store_.FindApiKeyById(a.agent));
  if (!agent || agent->principal.role != Role::kCustomerService) {
    return Status::Unprocessable("agent '" + a.agent + "' is not a customer_service principal");
  }
  o.assigned_agent = a.agent;
  o.version += 1;
  o.updated_at_ms = clock_.NowUnixMs();
  OC_RETURN_IF_ERROR(txn.UpdateOrder(o));
  CommandOutcome out;
  out.order = std::make_unique<Order>(std::move(o));
  return out;
}

Status OrderWriter::ApplyStockEffect(const Order& o, OrderStatus to) {
  // A refund that completes is judged by where it started: before shipping the reservation is
  // released, after shipping the sale stands (returns are restocked by hand).
  OrderStatus from =
      (o.status == OrderStatus::kRefunding && to == OrderStatus::kRefunded && o.refund_origin)
          ? *o.refund_origin
          : o.status;
  StockEffect effect = StockEffectOf(from, to);
  if (effect == StockEffect::kNone) return Status::Ok();
  std::vector<inventory::StockLine> lines;
  lines.reserve(o.lines.size());
  for (const OrderLine& l : o.lines) lines.push_back({l.sku, l.qty});
  return effect == StockEffect::kRelease ? inventory_.Release(lines)
                                         : inventory_.ConvertToSold(lines);
}

Result<CommandOutcome> OrderWriter::ApplySetStock(store::WriteTransaction& txn,
                                                  const Principal& actor, const SetStock& s) {
  if (actor.role != Role::kAdmin && actor.role != Role::kOperations) {
    return Status::PermissionDenied("only admin and operations set stock");
  }
  OC_RETURN_IF_ERROR(inventory_.SetLevel(s.sku, s.on_hand, s.safety_buffer));
  std::string category;
  if (s.category) {
    OC_RETURN_IF_ERROR(txn.SetCategory(s.sku, *s.category));
    category = *s.category;
  } else {
    OC_ASSIGN_OR_RETURN(auto existing, txn.FindStock(s.sku));
    if (existing) category = existing->category;
  }
  inventory::StockLevel level = *inventory_.Get(s.sku);
  CommandOutcome out;
  out.stock = store::StockRecord{s.sku,      level.on_hand,  level.safety_buffer, level.reserved,
                                 level.sold, level.oversold, std::move(category)};
  return out;
}

Result<CommandOutcome> OrderWriter::ApplyCreateReservation(const Principal& actor,
                                                           const CreateReservation& c) {
  OC_RETURN_IF_ERROR(CheckMayHold(actor));
  OC_RETURN_IF_ERROR(inventory_.Reserve(StockLinesOf(c.lines)));
  int64_t now = clock_.NowUnixMs();
  store::ReservationRecord r;
  r.no = next_hold_no_++;
  r.id = ids_.NextNumbered("res", static_cast<uint64_t>(r.no), store_.hold_id_mask());
  r.created_by = actor.id;
  r.channel = actor.role == Role::kChannel ? actor.channel : "";
  r.lines = c.lines;
  r.state = store::ReservationState::kActive;
  r.expires_at_ms = now + c.ttl_seconds * 1000;
  r.created_at_ms = now;
  r.updated_at_ms = now;
  hold_expiries_.emplace(r.expires_at_ms, r.no);
  next_hold_expiry_ms_ = std::min(next_hold_expiry_ms_, r.expires_at_ms);
  CommandOutcome out;
  out.reservation = std::move(r);
  out.created = true;
  return out;
}

Result<CommandOutcome> OrderWriter::ApplyReleaseReservation(store::WriteTransaction& txn,
                                                            const Principal& actor,
                                                            const ReleaseReservation& rel) {
  OC_RETURN_IF_ERROR(CheckMayHold(actor));
  OC_ASSIGN_OR_RETURN(auto hold, txn.FindReservation(rel.id));
  if (!hold || !HoldInScope(actor, *hold)) return Status::NotFound("reservation not found");
  CommandOutcome out;
  switch (hold->state) {
    case store::ReservationState::kConverted:
      return Status::Conflict("reservation_converted",
                              "reservation " + hold->id + " became order " + hold->order_id +
                                  "; cancel the order to give its stock back");
    case store::ReservationState::kReleased:
    case store::ReservationState::kExpired:
      out.reservation = std::move(*hold);  // already given back: releasing again changes nothing
      return out;
    case store::ReservationState::kActive:
      break;
  }
  int64_t now = clock_.NowUnixMs();
  OC_RETURN_IF_ERROR(inventory_.Release(StockLinesOf(hold->lines)));
  hold->state = hold->expires_at_ms <= now ? store::ReservationState::kExpired
                                           : store::ReservationState::kReleased;
  hold->updated_at_ms = now;
  OC_RETURN_IF_ERROR(txn.UpdateReservation(*hold));
  out.reservation = std::move(*hold);
  return out;
}

Result<CommandOutcome> OrderWriter::ApplyExpireReservations(store::WriteTransaction& txn) {
  const size_t taken_before = expiries_taken_in_batch_.size();
  Result<CommandOutcome> out = SweepDueHolds(txn);
  if (!out.ok()) {
    // The entries this sweep took go back, whether or not the batch is rolled back (a failure
    // before any write leaves the batch to commit): a due hold must not drop out of the queue.
    // The next look is a check interval away, not in a loop against a failing read.
    for (size_t i = taken_before; i < expiries_taken_in_batch_.size(); ++i) {
      hold_expiries_.push(expiries_taken_in_batch_[i]);
    }
    expiries_taken_in_batch_.resize(taken_before);
    ForgetHoldExpiry();
  }
  return out;
}

Result<CommandOutcome> OrderWriter::SweepDueHolds(store::WriteTransaction& txn) {
  int64_t now = clock_.NowUnixMs();
  int64_t expired = 0;
  for (size_t examined = 0;
       examined < kExpireBatchMax && !hold_expiries_.empty() && hold_expiries_.top().first <= now;
       ++examined) {
    HoldDue due = hold_expiries_.top();
    hold_expiries_.pop();
    expiries_taken_in_batch_.push_back(due);
    OC_ASSIGN_OR_RETURN(auto hold, txn.FindReservationByNo(due.second));
    // Released or converted before its time, or never written (its batch rolled back).
    if (!hold || hold->state != store::ReservationState::kActive) continue;
    OC_RETURN_IF_ERROR(inventory_.Release(StockLinesOf(hold->lines)));
    hold->state = store::ReservationState::kExpired;
    hold->updated_at_ms = now;
    OC_RETURN_IF_ERROR(txn.UpdateReservation(*hold));
    ++expired;
  }
  // More may be due than one sweep takes: then the top is still due and the next batch goes on.
  NoteNextHoldExpiry();
  CommandOutcome out;
  out.expired = expired;
  return out;
}

Result<CommandOutcome> OrderWriter::ApplyRetentionStep(store::WriteTransaction& txn,
                                                       RetainedTable table) {
  CommandOutcome out;
  const int64_t now = clock_.NowUnixMs();
  if (RetentionOf(table).count() <= 0) return out;  // the table keeps everything
  const int64_t cutoff = now - RetentionOf(table).count();
  bool more = false;  // the step left work behind: the pass goes on
  if (table == RetainedTable::kHolds) {
    OC_ASSIGN_OR_RETURN(auto step,
                        txn.PurgeEndedReservations(purge_from_no_, cutoff, kHoldPurgeExamineMax));
    purge_from_no_ = step.pass_done ? 0 : step.next_no;
    more = !step.pass_done;
    out.purged = step.deleted;
  } else {
    OC_ASSIGN_OR_RETURN(out.idempotency_purged, txn.PurgeIdempotency(cutoff, kIdempotencyPurgeMax));
    more = out.idempotency_purged == static_cast<int64_t>(kIdempotencyPurgeMax);
  }
  RetentionPass& pass = retention_[static_cast<size_t>(table)];
  pass.running = more;
  pass.next_ms = now + (more ? kHoldPurgeStepInterval : kHoldPurgePassInterval).count();
  return out;
}

Status OrderWriter::InsertNewHolds(store::WriteTransaction& txn,
                                   const std::vector<Result<CommandOutcome>>& results,
                                   size_t* written) {
  std::vector<const store::ReservationRecord*> holds;
  for (size_t i = *written; i < results.size(); ++i) {
    const Result<CommandOutcome>& r = results[i];
    if (r.ok() && r->created && r->reservation && !r->replay) holds.push_back(&*r->reservation);
  }
  *written = results.size();
  return holds.empty() ? Status::Ok() : txn.InsertReservations(holds);
}

Status OrderWriter::PersistTouchedStock(store::WriteTransaction& txn) {
  for (const std::string& sku : inventory_.TouchedInBatch()) {
    auto level = inventory_.Get(sku);
    if (!level) continue;
    // The invariant is asserted right before it reaches the disk (TigerBeetle style).
    if (!level->holds_invariant()) {
      return Status::Internal("stock invariant broken for '" + sku + "'; refusing to persist");
    }
    OC_RETURN_IF_ERROR(
        txn.PutStock(store::StockRecord{sku, level->on_hand, level->safety_buffer, level->reserved,
                                        level->sold, level->oversold, ""}));
  }
  return Status::Ok();
}

Status OrderWriter::AppendEvent(store::WriteTransaction& txn, const Order& o, std::string_view type,
                                std::optional<OrderStatus> previous,
                                std::string_view extra_fields) {
  store::OutboxEvent e;
  e.id = ids_.Next("evt");
  e.type = type;
  e.order_id = o.id;
  e.order_version = o.version;
  e.created_at_ms = o.updated_at_ms;
  // Built by hand: this runs for every change on the single writer thread.
  std::string& p = e.payload_json;
  p.reserve(320);
  p += "{\"id\":";
  json::AppendQuoted(&p, e.id);
  p += ",\"type\":";
  json::AppendQuoted(&p, e.type);
  p += ",\"order_id\":";
  json::AppendQuoted(&p, o.id);
  p += ",\"order_version\":";
  p += std::to_string(o.version);
  p += ",\"status\":";
  json::AppendQuoted(&p, ToString(o.status));
  if (previous) {
    p += ",\"previous_status\":";
    json::AppendQuoted(&p, ToString(*previous));
  }
  p += ",\"channel\":";
  json::AppendQuoted(&p, o.channel);
  p += ",\"channel_order_id\":";
  json::AppendQuoted(&p, o.channel_order_id);
  p += ",\"occurred_at\":";
  p += '"';
  AppendRfc3339(&p, o.updated_at_ms);
  p += '"';
  p += extra_fields;
  p += '}';
  return txn.AppendOutbox(e);
}

}  // namespace oc::orders
