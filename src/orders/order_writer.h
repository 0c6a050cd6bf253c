// OrderWriter: the single writer through which every order change goes (DESIGN.md, write path).
//
// HTTP threads validate input and Submit() a command; one writer thread takes every command
// waiting (up to kBatchSizeMax), applies each in order inside one store transaction and commits.
// A command refused by a business rule (out of stock, illegal move, stale version) is refused
// before it writes anything, so it leaves no trace; one whose write fails half-way makes the
// writer roll the batch back and re-run it without that command. The writer also owns the
// inventory: order creation reserves every line or none before anything is written, transitions
// release or sell stock, and the touched SKUs are persisted in the same transaction; a batch
// that rolls back takes its stock changes with it. A second thread, the syncer,
// fsyncs the log and only then completes the callbacks of every batch committed before that
// fsync — so the writer applies batch N+1 while batch N reaches the disk, and one fsync serves
// several batches under load. Hence: no callback runs before its batch is durable (nor does a
// refusal or an idempotent replay computed from not-yet-durable state), concurrent requests
// share fsyncs, and there are no read-modify-write races because only one thread writes. If an
// fsync ever fails the writer stops accepting work (fail-stop): what the disk holds is no longer
// known, and only a restart, which recovers from the log, can tell. Idempotency keys and
// (channel, channel_order_id) uniqueness are checked here, inside the same transaction.
// Submit() is thread-safe and never blocks: a full queue is refused (503) rather than waited on.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <variant>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/order.h"
#include "core/principal.h"
#include "core/sharded_counter.h"
#include "inventory/inventory.h"
#include "store/store.h"

namespace oc::orders {

inline constexpr size_t kQueueDepthMax = 65536;
inline constexpr size_t kBatchSizeMax = 2048;

// Group commit under load. The syncer fsyncs back to back, so an fsync's group is whatever was
// committed during the previous one: at a few hundred clients, ~55 requests per fsync while the
// device allows ~700 fsyncs a second, and each fsync costs a syscall, its I/O and a round of
// wake-ups. When the server holds many more requests than this group (at least
// kGroupWaitOthersMin outside it), the syncer first lets more commits join: until the group
// holds kGroupCommandsTarget commands, or fewer than kGroupWaitOthersMin requests would be
// left outside it, or kGroupWaitMax has passed. Nothing is answered before its own fsync, as
// before; a request waits at most kGroupWaitMax longer. (Requests that commit nothing, reads
// for instance, count as "in the server" too: a crowd of them can cost writes that wait.)
// Why "outside the group": waiting costs no throughput only while enough requests are left
// to keep the cores busy during the fsync. With 64 clients (order creation's benchmark) a
// fuller group parks nearly every client and the cores idle — an earlier version keyed on the
// previous group's size alone slowed that benchmark. With at most kGroupWaitOthersMin clients
// the server never holds that many requests beside a non-empty group, so the syncer never
// waits, and low concurrency keeps one-fsync latency.
inline constexpr size_t kGroupWaitOthersMin = 64;
inline constexpr size_t kGroupCommandsTarget = 256;
inline constexpr std::chrono::microseconds kGroupWaitMax{2000};

struct CommandOutcome {
  // For order commands. Absent otherwise: a checkout hold's outcome does not build, move and
  // destroy a whole Order (callgrind: about 8% of a hold's instructions). On the heap, so an
  // outcome is a third of the size: a batch holds one per command, and each answer carries
  // one across threads.
  std::unique_ptr<Order> order;
  std::optional<store::StockRecord> stock;              // for SetStock
  std::optional<store::ReservationRecord> reservation;  // for the reservation commands
  int64_t expired = 0;                                  // holds released by ExpireReservations
  int64_t purged = 0;                                   // ended holds deleted by RetentionStep
  int64_t idempotency_purged = 0;  // stored Idempotency-Key answers deleted by RetentionStep
  bool created = false;            // a new order (201) rather than an existing one (200)
  std::optional<OrderStatus> previous_status;  // set by a transition
  // Set when the request repeated an Idempotency-Key: answer with exactly this, nothing was done.
  std::optional<store::IdempotencyRecord> replay;
  // A business refusal recorded under the request's Idempotency-Key (so a retry gets the same
  // answer): answer with this error; nothing else was written.
  std::optional<Status> refusal;
};

// What the writer stores for an Idempotency-Key: the first response, rendered on the writer
// thread right after the command succeeds (so a repeat gets the very same bytes).
struct Idempotency {
  std::string principal_id;
  std::string key;
  std::string request_hash;  // compared with the stored one (store::IdempotencyRecord)
  std::function<store::IdempotencyRecord(const CommandOutcome&)> render;
  // Renders a refusal (out of stock, illegal move, stale version, …) for the record.
  std::function<store::IdempotencyRecord(const Status&)> render_refusal;
};

struct CreateOrder {
  Order order;  // validated input; id, version, status, timestamps are assigned by the writer
  // A channel order already paid on its platform: accept it even without the stock, flagged
  // "oversold" with an inventory.oversold event, rather than refuse it (API.md, Inventory).
  bool accept_oversell = false;
};

struct Transition {
  std::string order_id;
  OrderStatus to;
  std::optional<int64_t> expected_version;
  std::string reason;
};

struct Assign {
  std::string order_id;
  std::string agent;
  std::optional<int64_t> expected_version;
};

// Sets a SKU's on_hand and safety buffer (PUT /v1/inventory/{sku}).
struct SetStock {
  std::string sku;
  int64_t on_hand = 0;
  int64_t safety_buffer = 0;
  std::optional<std::string> category;  // unchanged when absent
};

inline constexpr int64_t kHoldTtlDefaultSeconds = 900;
inline constexpr int64_t kHoldTtlMaxSeconds = 7 * 24 * 3600;

// Places a checkout hold (POST /v1/reservations): every line or none, like an order.
struct CreateReservation {
  std::vector<store::HeldLine> lines;
  int64_t ttl_seconds = kHoldTtlDefaultSeconds;
};

// Gives a hold's stock back (DELETE /v1/reservations/{id}). Repeating it changes nothing.
struct ReleaseReservation {
  std::string id;
};

// Releases every hold whose time is up. The writer issues it by itself when a hold falls due
// (and once at start, for holds that expired while the server was down).
struct ExpireReservations {};

// What a retention pass deletes from: holds that ended longer than
// WriterOptions::hold_retention ago, or Idempotency-Key answers stored longer than
// WriterOptions::idempotency_retention ago.
enum class RetainedTable { kHolds = 0, kIdempotencyKeys = 1 };
inline constexpr size_t kRetainedTables = 2;

// One step of a table's retention pass. The writer issues the due steps by itself, as a batch
// of their own (a table's steps kHoldPurgeStepInterval apart while its pass goes on,
// kHoldPurgePassInterval between its passes), so those tables, and the start-up scan of
// active holds, stay as large as the retention makes them rather than growing with every sale.
// The tables' passes are independent: one failing or with a backlog leaves the other's pace.
struct RetentionStep {
  RetainedTable table = RetainedTable::kHolds;
};

// How long an ended hold is kept by default: a week to look into a dispute, as a buyer's
// checkout history; orders keep everything they took from their holds.
inline constexpr std::chrono::hours kHoldRetentionDefault{7 * 24};
// How long an Idempotency-Key answer is kept by default: a day, as payment APIs do, is longer
// than any client retries one request. Repeated orders stay safe beyond it all the same: they
// are unique by (channel, channel_order_id), and a transition names the version it expects.
inline constexpr std::chrono::hours kIdempotencyRetentionDefault{24};
inline constexpr size_t kHoldPurgeExamineMax = 1000;  // holds looked at in one step
inline constexpr size_t kIdempotencyPurgeMax = 1000;  // stored answers deleted in one step
inline constexpr std::chrono::milliseconds kHoldPurgeStepInterval{100};
inline constexpr std::chrono::milliseconds kHoldPurgePassInterval{60'000};

struct Command {
  std::variant<CreateOrder, Transition, Assign, SetStock, CreateReservation, ReleaseReservation,
               ExpireReservations, RetentionStep>
      action;
  Principal actor;
  std::optional<Idempotency> idempotency;
};

// Takes the outcome by rvalue reference: an outcome carries a whole Order, and every by-value
// hop (std::function forwards a by-value argument twice) would move it again.
using Completion = std::function<void(Result<CommandOutcome>&&)>;

struct WriterOptions {
  // How often an idle writer looks at the clock for holds that fell due. The clock itself is
  // injected (Clock), so tests move time and call ExpireHolds() instead of waiting.
  std::chrono::milliseconds hold_check_interval{1000};
  // Called on the syncer thread after every successful fsync: new events are durable (the
  // outbox relay is woken by it). Must be quick and must not call back into the writer.
  std::function<void()> on_durable;
  // Requests the HTTP server holds right now (HttpServerOptions::requests_in_flight); the
  // group-commit wait (kGroupWaitOthersMin) needs it and never happens without it.
  const ShardedCounter* requests_in_flight = nullptr;
  // Holds that ended (released, expired, converted) this long ago are deleted; zero keeps
  // every hold. A hold id older than this may answer 404 instead of its final state.
  std::chrono::milliseconds hold_retention{kHoldRetentionDefault};
  // Idempotency-Key answers stored this long ago are deleted (a repeat of the key after that is
  // a new request); zero keeps every answer.
  std::chrono::milliseconds idempotency_retention{kIdempotencyRetentionDefault};
};

class OrderWriter {
 public:
  // Starts the writer thread. `store`, `clock` and `ids` must outlive the writer.
  static Result<std::unique_ptr<OrderWriter>> Start(store::Store& store, const Clock& clock,
                                                    IdGenerator& ids, WriterOptions options = {});
  ~OrderWriter();  // Stop()s
  OrderWriter(const OrderWriter&) = delete;
  OrderWriter& operator=(const OrderWriter&) = delete;

  // Queues `command`; `done` runs later on the writer thread with the outcome. Returns
  // Unavailable (and never calls `done`) when the queue is full or the writer is stopping.
  Status Submit(Command&& command, Completion done);

  // Finishes every queued command, then stops the thread. Idempotent.
  void Stop();

  // Releases the holds that are due by the clock now; `done` gets the count in `expired`.
  Status ExpireHolds(Completion done);

  // Runs one step of `table`'s retention pass now; `done` gets the count deleted in `purged`
  // (holds) or `idempotency_purged`.
  Status RunRetentionStep(RetainedTable table, Completion done);

  // Orders per status as of the last committed batch (for /metrics).
  std::array<int64_t, 9> OrderCountsByStatus() const;
  size_t QueueDepth() const;
  int64_t BatchesCommitted() const { return batches_committed_.load(); }
  // Ended holds the retention pass has deleted (durably) since start.
  int64_t HoldsPurged() const { return holds_purged_.load(); }
  // Stored Idempotency-Key answers the retention pass has deleted (durably) since start.
  int64_t IdempotencyPurged() const { return idempotency_purged_.load(); }
  int64_t HoldPurgeFailures() const { return purge_failures_.load(); }
  // How many times the writer thread has looked for work: a test's way to see that it sleeps
  // when there is none.
  int64_t LoopTurns() const { return loop_turns_.load(); }

 private:
  struct Pending {
    Command command;
    Completion done;
  };
  // A committed batch waiting for the fsync that makes it durable.
  struct Committed {
    std::vector<Completion> done;
    std::vector<Result<CommandOutcome>> results;
    std::array<int64_t, 9> status_delta{};
  };

  OrderWriter(store::Store& store, const Clock& clock, IdGenerator& ids, WriterOptions options);
  bool HoldsDue() const { return next_hold_expiry_ms_ <= clock_.NowUnixMs(); }
  // How long an idle writer sleeps before it looks at the clock again.
  std::chrono::milliseconds IdleWait() const;
  std::chrono::milliseconds RetentionOf(RetainedTable table) const {
    return table == RetainedTable::kHolds ? options_.hold_retention
                                          : options_.idempotency_retention;
  }
  // Never after a failed fsync: nothing is written until a restart, and a step that stayed due
  // would keep the writer from sleeping.
  bool RetentionDue(RetainedTable table) const {
    return !failed_ && RetentionOf(table).count() > 0 &&
           retention_[static_cast<size_t>(table)].next_ms <= clock_.NowUnixMs();
  }
  bool PurgeDue() const {
    return RetentionDue(RetainedTable::kHolds) || RetentionDue(RetainedTable::kIdempotencyKeys);
  }
  void Run();
  void RunSyncer();
  // Requests in the server beyond the commands committed and not yet synced. Holds sync_mu_.
  int64_t RequestsOutsideGroup() const;
  // Under load, lets more committed batches join the next fsync (kGroupWaitMax). Holds
  // `lock` on sync_mu_.
  void WaitForFullerGroup(std::unique_lock<std::mutex>& lock);
  void ApplyBatch(std::vector<Pending>& batch);
  // Answers every command of a batch that wrote nothing with `status`.
  static void FailAll(std::vector<Pending>& batch, const Status& status);
  // When the writer next looks for due holds: at the soonest queued expiry.
  void NoteNextHoldExpiry();
  void ForgetHoldExpiry();
  // Start, commit and roll back a batch: the stock journal and the expiry queue with it.
  void BeginBatch();
  void EndBatch();
  void RollbackBatch();
  Status ExpireHoldsAtStart();
  void Complete(Committed& committed, const Status& sync_status);
  Result<CommandOutcome> Apply(store::WriteTransaction& txn, Command& command);
  Result<CommandOutcome> ApplyCreate(store::WriteTransaction& txn, const Principal& actor,
                                     const CreateOrder& create);
  Result<CommandOutcome> ApplyTransition(store::WriteTransaction& txn, const Principal& actor,
                                         const Transition& t);
  Result<CommandOutcome> ApplyAssign(store::WriteTransaction& txn, const Principal& actor,
                                     const Assign& a);
  Result<CommandOutcome> ApplySetStock(store::WriteTransaction& txn, const Principal& actor,
                                       const SetStock& s);
  Result<CommandOutcome> ApplyCreateReservation(const Principal& actor, const CreateReservation& c);
  Result<CommandOutcome> ApplyReleaseReservation(store::WriteTransaction& txn,
                                                 const Principal& actor,
                                                 const ReleaseReservation& r);
  Result<CommandOutcome> ApplyExpireReservations(store::WriteTransaction& txn);
  Result<CommandOutcome> SweepDueHolds(store::WriteTransaction& txn);
  Result<CommandOutcome> ApplyRetentionStep(store::WriteTransaction& txn, RetainedTable table);
  // The hold an order converts, refused unless it is active, in scope and not yet due.
  Result<store::ReservationRecord> LoadHoldToConvert(store::WriteTransaction& txn,
                                                     const Principal& actor, const Order& order);
  // Moves stock as a transition requires (release before shipping, sell on shipping).
  Status ApplyStockEffect(const Order& order, OrderStatus to);
  // Writes every SKU the batch touched, in the batch's transaction.
  Status PersistTouchedStock(store::WriteTransaction& txn);
  // Writes the holds placed by results[*written..] (a batch's new holds are written together,
  // several rows to a statement, before it commits or before anything in it reads a hold back),
  // and moves *written to the end.
  static Status InsertNewHolds(store::WriteTransaction& txn,
                               const std::vector<Result<CommandOutcome>>& results, size_t* written);
  // The order, if `actor` may know it exists (404 otherwise, like reads).
  Result<Order> LoadInScope(store::WriteTransaction& txn, const Principal& actor,
                            const std::string& order_id);
  // `extra_fields` is appended to the event object as is: `,"key":value` pairs, or empty.
  Status AppendEvent(store::WriteTransaction& txn, const Order& order, std::string_view type,
                     std::optional<OrderStatus> previous, std::string_view extra_fields = {});

  store::Store& store_;
  const Clock& clock_;
  IdGenerator& ids_;
  WriterOptions options_;
  // When the next hold falls due, as far as the writer knows (writer thread only). Too early is
  // harmless (a sweep that finds nothing), so it is reset to "now" whenever a batch fails.
  int64_t next_hold_expiry_ms_ = std::numeric_limits<int64_t>::max();
  // The active holds' expiries, soonest first, as (expires_at_ms, no); writer thread only.
  // A hold released or converted early stays queued until its time and is skipped then (one
  // row read at expiry, against finding it on the buyer's path). Entries the batch's sweep
  // took are put back if the batch rolls back; entries of holds a rolled-back batch never
  // wrote are skipped like released ones.
  using HoldDue = std::pair<int64_t, int64_t>;
  std::priority_queue<HoldDue, std::vector<HoldDue>, std::greater<>> hold_expiries_;
  std::vector<HoldDue> expiries_taken_in_batch_;
  int64_t next_hold_no_ = 1;  // the `no` the next hold gets (store::ReservationRecord)
  // Each table's retention pass (writer thread only): when its next step is due, and whether
  // a pass is under way; for holds also the number it goes on from. A step whose batch rolls
  // back has moved on all the same; what it would have deleted waits for the next pass.
  struct RetentionPass {
    int64_t next_ms = 0;
    bool running = false;
  };
  std::array<RetentionPass, kRetainedTables> retention_{};
  int64_t purge_from_no_ = 0;

  std::mutex stop_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread thread_;

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Committed> committed_;
  size_t unsynced_commands_ = 0;  // commands in committed_
  bool writer_done_ = false;
  std::atomic<bool> failed_{false};
  std::thread syncer_;

  // Stock levels, owned by the writer thread alone (reads go to the store).
  inventory::Inventory inventory_;
  std::array<std::atomic<int64_t>, 9> status_counts_{};
  std::atomic<int64_t> batches_committed_{0};
  std::atomic<int64_t> holds_purged_{0};
  std::atomic<int64_t> idempotency_purged_{0};
  std::atomic<int64_t> purge_failures_{0};
  std::atomic<int64_t> loop_turns_{0};
};

}  // namespace oc::orders
