// Store: the durable home of orders, their outbox events, idempotency records and API keys.
//
// One interface, two backends (SQLite embedded default; PostgreSQL for scale-out, later). The
// write side is a WriteTransaction owned by exactly one writer at a time (orders/OrderWriter):
// it groups many commands into one transaction (a command refused by a business rule fails
// before it writes anything); Commit() orders the batch and Sync() makes it durable (fsync). The
// read side is thread-safe, never waits for the writer (WAL readers), and sees only durable data:
// a read that finds commits not yet fsync'd performs (or joins) that fsync first. Order changes and
// the outbox events they cause are written through the same transaction, so an event exists if and
// only if its change does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "core/order.h"
#include "core/principal.h"
#include "core/status.h"

namespace oc::store {

// An event waiting in (or drained from) the transactional outbox.
struct OutboxEvent {
  int64_t seq = 0;   // assigned by the store; total order of events
  std::string id;    // "evt_…", stable across redeliveries
  std::string type;  // "order.created", "order.status_changed"
  std::string order_id;
  int64_t order_version = 0;
  std::string payload_json;  // the event object as subscribers receive it
  int64_t created_at_ms = 0;
};

// The first response to a request carrying an Idempotency-Key, replayed for repeats.
struct IdempotencyRecord {
  // PiiCodec::KeyedDigest of method, path and body: the body may carry personal data, and an
  // unkeyed hash of it could be checked against guesses. Empty for a record from before schema
  // 12, whose unkeyed hash that migration erased.
  std::string request_hash;
  int status_code = 0;
  std::string response_body;
};

// A SKU's stock counters as persisted (inventory/ holds the live copy in memory).
struct StockRecord {
  std::string sku;
  int64_t on_hand = 0;
  int64_t safety_buffer = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
  int64_t oversold = 0;  // units accepted beyond stock and not yet covered (inventory/)
  std::string category;  // for substitute suggestions; set through PUT /v1/inventory/{sku}
};

struct HeldLine {
  std::string sku;
  int64_t qty = 0;
};

enum class ReservationState { kActive, kConverted, kReleased, kExpired };
std::string_view ToString(ReservationState s);
std::optional<ReservationState> ParseReservationState(std::string_view s);

// A checkout hold (POST /v1/reservations): stock reserved for a while before the order exists.
struct ReservationRecord {
  // The store's key for the hold; ids made with IdGenerator::NextNumbered carry it (hidden by
  // the store's hold_id_mask()), so a hold is found from its id without an index. Holds made
  // before schema 10 keep their ids: by their plain number, or (before 9) an index of their own.
  int64_t no = 0;
  std::string id;          // "res_…"
  std::string created_by;  // principal id
  std::string channel;     // the creating channel key's channel; empty for admin holds
  std::vector<HeldLine> lines;
  ReservationState state = ReservationState::kActive;
  std::string order_id;  // set once converted
  int64_t expires_at_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// An order accepted for stock we did not have ("accept_oversell"), with what it was short.
struct OversoldLine {
  std::string sku;
  int64_t qty_short = 0;
  int64_t unit_price = 0;
};
struct OversoldRecord {
  std::string order_id;
  std::string currency;
  std::vector<OversoldLine> lines;
  int64_t created_at_ms = 0;
  // Filled on reads from the order: where it stands now.
  std::string channel;
  std::string channel_order_id;
  OrderStatus status = OrderStatus::kPendingPayment;
};

struct ApiKeyRecord {
  Principal principal;
  std::string key_hash;     // hex SHA-256 of the secret key; the key itself is never stored
  std::string totp_secret;  // base32, admins only
  // The sealed secret could not be opened (sealed under a master key the keyring no longer
  // has, after `orderd --new-keyring`): the key still names its principal, but cannot step up.
  bool totp_unreadable = false;
  int64_t created_at_ms = 0;
};

// A webhook subscription (POST /v1/subscriptions) and how far its delivery has come.
struct SubscriptionRecord {
  std::string id;  // "sub_…"
  std::string url;
  std::vector<std::string> events;  // event types delivered
  std::string secret;               // HMAC key for X-OrderCenter-Signature
  int64_t max_per_minute = 0;
  int64_t batch_max = 0;
  // Every outbox event with seq <= cursor is delivered, parked or dead for this subscription.
  int64_t cursor = 0;
  std::string created_by;
  int64_t created_at_ms = 0;
  // The role view deliveries carry (outbox/relay.h); none: events only, no order object.
  std::optional<Role> view_role;
  std::string view_channel;  // only with Role::kChannel
};

enum class DeadLetterState { kDead, kReplayPending, kReplayed };
std::string_view ToString(DeadLetterState s);
std::optional<DeadLetterState> ParseDeadLetterState(std::string_view s);

// An event a subscriber did not take within the retry budget. Until it is replayed, the
// subscriber's later events for the same order are parked behind it (per-order ordering).
struct DeadLetterRecord {
  std::string id;  // "dlq_…"
  std::string subscription_id;
  int64_t event_seq = 0;
  std::string event_id;
  std::string event_type;
  std::string order_id;
  int64_t attempts = 0;
  std::string last_error;
  DeadLetterState state = DeadLetterState::kDead;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// A dead letter's place in the list (newest first: created_at, then event_seq, then id, all
// descending). A page ends at one; the next page starts after it, so letters added meanwhile
// neither repeat nor push others off a page.
struct DeadLetterPosition {
  int64_t created_at_ms = 0;
  int64_t event_seq = 0;
  std::string id;
};

struct DeadLetterQuery {
  std::string subscription_id;  // empty: every subscription
  size_t limit = 0;
  std::optional<DeadLetterPosition> after;  // absent: from the newest
};

// An event held back because an earlier event of its order is dead for that subscriber.
struct ParkedEvent {
  int64_t event_seq = 0;
  std::string order_id;
};

// One step of a subscription's delivery, applied atomically: the cursor moves, dead letters
// are written (inserted or replaced), events are parked or released from parking.
struct DeliveryProgress {
  std::string subscription_id;
  int64_t cursor = 0;
  std::vector<DeadLetterRecord> dead_letters;
  std::vector<ParkedEvent> parked;
  std::vector<int64_t> unparked_seqs;
};

// An order's sealed personal data as stored, for background re-keying (privacy/key_rotation.h).
struct SealedPiiRow {
  int64_t seq = 0;
  std::string order_id;
  std::string sealed;
  bool has_phone_index = false;
};
// Replaces one order's sealed data if it is still `expected_sealed` (compare-and-set: a row
// changed meanwhile is left for the next pass), and sets its phone index when given.
struct SealedPiiUpdate {
  int64_t seq = 0;
  std::string expected_sealed;
  std::string sealed;
  std::optional<std::string> phone_index;
};

// The places that keep values sealed with PiiCodec::SealText, each with the associated data
// its values are sealed under: stored idempotent answers, admins' TOTP secrets, webhook signing
// secrets.
enum class SealedTextPlace { kIdempotencyAnswer, kTotpSecret, kWebhookSecret };
std::string_view ToString(SealedTextPlace place);
inline constexpr SealedTextPlace kSealedTextPlaces[] = {SealedTextPlace::kIdempotencyAnswer,
                                                        SealedTextPlace::kTotpSecret,
                                                        SealedTextPlace::kWebhookSecret};
// One stored value of a place, for background re-keying: its row (`key`, and `key2` for the
// two-part idempotency key), the context it is sealed under, and the value as stored.
struct SealedTextRow {
  SealedTextPlace place = SealedTextPlace::kTotpSecret;
  std::string key;
  std::string key2;
  std::string context;
  std::string stored;
};
// Replaces `row`'s value with `sealed` if it is still `row.stored` (compare-and-set).
struct SealedTextUpdate {
  SealedTextRow row;
  std::string sealed;
};

// One entry of the tamper-evident audit log (privacy/audit.h defines what goes in and how the
// chain is hashed; the store only keeps the rows and assigns their places in the chain).
struct AuditRecord {
  int64_t seq = 0;  // assigned by the store: 1, 2, 3, ... with no gaps
  std::string id;   // "aud_…"
  int64_t at_ms = 0;
  std::string actor;  // principal id; empty for an unauthenticated caller
  std::string role;
  std::string ip;
  std::string action;  // "pii.reveal", "orders.export", "auth.failed", "access.denied", ...
  std::string order_id;
  std::vector<std::string> fields;
  std::string detail;   // what else identifies the act: route, reason, filters; never PII
  std::string outcome;  // "ok", "denied", "failed", or the HTTP status answered
  std::string prev_hash;
  std::string hash;
};

struct AuditQuery {
  std::optional<int64_t> since_ms;
  std::optional<std::string> actor;
  std::optional<std::string> order_id;
  std::optional<std::string> action;
  int64_t after_seq = 0;  // cursor: only entries after this one (oldest first)
  size_t limit = 50;
};

inline constexpr size_t kListLimitDefault = 50;
inline constexpr size_t kListLimitMax = 500;

struct OrderQuery {
  std::optional<OrderStatus> status;
  std::optional<std::string> phone_index;  // exact match on the customer's phone (blind index)
  std::optional<std::string> channel;
  std::optional<std::string> tag;
  std::optional<std::string> assigned_agent;
  std::optional<int64_t> since_ms;
  int64_t before_seq = 0;  // cursor: only orders older than this row (0 = from the newest)
  size_t limit = kListLimitDefault;
};

struct OrderPage {
  std::vector<Order> items;
  std::optional<int64_t> next_before_seq;  // cursor for the next page, absent on the last page
};

class WriteTransaction {
 public:
  virtual ~WriteTransaction() = default;  // rolls back unless committed
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  // How many write statements have succeeded in this transaction. The writer compares it
  // before and after a command: a command that fails after writing poisons the batch, which is
  // then rolled back and re-run without it (per-command savepoints cost ~10% of throughput).
  virtual int64_t writes() const = 0;
  // True once the database has abandoned the transaction (SQLite rolls a transaction back by
  // itself on a full disk, an I/O error or out-of-memory). Every later call then fails, and the
  // batch must fail as a whole: nothing of it is written.
  virtual bool lost() const = 0;

  virtual Result<std::optional<Order>> FindOrder(std::string_view id) = 0;
  virtual Result<std::optional<std::string>> FindOrderIdByChannelRef(
      std::string_view channel, std::string_view channel_order_id) = 0;
  virtual Status InsertOrder(const Order& order) = 0;
  // Persists the mutable part of an order: status, refund_origin, version, assigned_agent,
  // tags, risk_flags, health_score, updated_at.
  virtual Status UpdateOrder(const Order& order) = 0;
  virtual Status AppendOutbox(const OutboxEvent& event) = 0;
  virtual Result<std::optional<IdempotencyRecord>> FindIdempotency(std::string_view principal_id,
                                                                   std::string_view key) = 0;
  // Inserts or replaces a SKU's counters, in the same transaction as the orders that moved them.
  // (`category` is not written here: see SetCategory.)
  virtual Status PutStock(const StockRecord& stock) = 0;
  // Sets a SKU's category, creating its row (with zero counters) if needed.
  virtual Status SetCategory(std::string_view sku, std::string_view category) = 0;
  virtual Result<std::optional<StockRecord>> FindStock(std::string_view sku) = 0;
  virtual Result<std::optional<ReservationRecord>> FindReservation(std::string_view id) = 0;
  virtual Result<std::optional<ReservationRecord>> FindReservationByNo(int64_t no) = 0;
  // New holds, each under its `no` (higher than any before: the writer counts them), written
  // several rows to a statement.
  virtual Status InsertReservations(const std::vector<const ReservationRecord*>& reservations) = 0;
  // A hold's state, order_id and updated_at, by its `no`.
  virtual Status UpdateReservation(const ReservationRecord& reservation) = 0;
  // One step of the retention pass over holds that ended. Looks at up to `examine_max` holds
  // numbered `from_no` and up, in number order, and deletes those that ended (released,
  // expired or converted) before `ended_before_ms`; never the newest hold, whose number the
  // next start counts on. It stops early at a hold created at or after `ended_before_ms`: none
  // numbered after it can have ended before then (give or take a step of the clock), so the
  // pass is done.
  struct HoldPurgeStep {
    int64_t deleted = 0;
    int64_t next_no = 0;     // where the pass goes on
    bool pass_done = false;  // nothing further can be due: start again from the lowest number
  };
  virtual Result<HoldPurgeStep> PurgeEndedReservations(int64_t from_no, int64_t ended_before_ms,
                                                       size_t examine_max) = 0;
  virtual Status InsertOversold(const OversoldRecord& record) = 0;
  virtual Status PutIdempotency(std::string_view principal_id, std::string_view key,
                                const IdempotencyRecord& record, int64_t now_ms) = 0;
  // One step of the retention pass over stored Idempotency-Key answers: deletes up to
  // `max_rows` of those stored before `stored_before_ms`, oldest first, and says how many went.
  // A repeat of a deleted key is a new request.
  virtual Result<int64_t> PurgeIdempotency(int64_t stored_before_ms, size_t max_rows) = 0;

  // Makes the batch visible and fixes its place in the log. It is durable once a Sync() that
  // starts after this Commit() returns ok: acknowledge nothing before that. After a failed
  // Commit the transaction is rolled back.
  virtual Status Commit() = 0;

 protected:
  WriteTransaction() = default;
};

class Store {
 public:
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // At most one open write transaction per Store; the caller (the writer) guarantees it.
  virtual Result<std::unique_ptr<WriteTransaction>> BeginWrite() = 0;

  // Makes every transaction committed before this call durable (fsync). Separate from Commit()
  // so the writer can apply the next batch while this one reaches the disk; one Sync() covers
  // all batches committed before it. Thread-safe; may run beside BeginWrite()/Commit().
  virtual Status Sync() = 0;
  // fsyncs performed so far (for /metrics: how many writes each fsync carries).
  virtual int64_t fsyncs() const = 0;

  virtual Result<std::optional<Order>> GetOrder(std::string_view id) = 0;
  virtual Result<OrderPage> ListOrders(const OrderQuery& query) = 0;
  virtual Result<std::vector<std::pair<OrderStatus, int64_t>>> CountOrdersByStatus() = 0;
  virtual Result<std::vector<OutboxEvent>> ReadOutbox(int64_t after_seq, size_t limit) = 0;
  // Every SKU's counters, to rebuild the in-memory inventory at start.
  virtual Result<std::vector<StockRecord>> LoadStock() = 0;
  // One SKU's counters as of the last committed batch.
  virtual Result<std::optional<StockRecord>> GetStock(std::string_view sku) = 0;
  virtual Result<std::optional<ReservationRecord>> GetReservation(std::string_view id) = 0;
  // When each active hold falls due, as (expires_at_ms, no), to rebuild the writer's expiry
  // queue at start; and the highest hold `no` so far (0 when there is none).
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> ActiveReservationExpiries() = 0;
  virtual Result<int64_t> MaxReservationNo() = 0;
  // Hides the `no` in hold ids (NumberMask), keyed by a secret this database made for itself:
  // ids and the rows they name travel together, in backups too.
  virtual const NumberMask& hold_id_mask() const = 0;
  // Orders accepted as oversold that are not cancelled or refunded, oldest first.
  virtual Result<std::vector<OversoldRecord>> ListOversold() = 0;

  // Webhook delivery state (outbox/'s relay). Written outside the order writer, each call in a
  // transaction of its own; a subscription is durable when InsertSubscription returns.
  virtual Status InsertSubscription(const SubscriptionRecord& record) = 0;
  // NotFound when there is no such subscription. Its parked events and dead letters go with it.
  virtual Status DeleteSubscription(std::string_view id) = 0;
  virtual Result<std::vector<SubscriptionRecord>> ListSubscriptions() = 0;
  virtual Status RecordDelivery(const DeliveryProgress& progress) = 0;
  // Up to `q.limit` dead letters, newest first (DeadLetterPosition's order).
  virtual Result<std::vector<DeadLetterRecord>> ListDeadLetters(const DeadLetterQuery& q) = 0;
  virtual Result<std::optional<DeadLetterRecord>> GetDeadLetter(std::string_view id) = 0;
  virtual Status SetDeadLetterState(std::string_view id, DeadLetterState state, int64_t now_ms) = 0;
  virtual Result<std::vector<ParkedEvent>> ListParked(std::string_view subscription_id) = 0;
  // The events with these seqs (those that exist), in seq order.
  virtual Result<std::vector<OutboxEvent>> ReadOutboxSeqs(const std::vector<int64_t>& seqs) = 0;
  // The highest outbox seq so far (0 when empty).
  virtual Result<int64_t> MaxOutboxSeq() = 0;

  // API keys are written outside the order writer: `orderctl keys create` may run beside orderd.
  virtual Status InsertApiKey(const ApiKeyRecord& record) = 0;
  virtual Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(std::string_view key_hash) = 0;
  virtual Result<std::optional<ApiKeyRecord>> FindApiKeyById(std::string_view id) = 0;

  // Background re-keying: orders' sealed data in seq order after `after_seq`, and the
  // compare-and-set replacement of a batch (one transaction, durable on return). Returns how
  // many rows were replaced.
  virtual Result<std::vector<SealedPiiRow>> ScanSealedPii(int64_t after_seq, size_t limit) = 0;
  virtual Result<int64_t> ReplaceSealedPii(const std::vector<SealedPiiUpdate>& updates) = 0;
  // The same for sealed texts: up to `limit` values of `place` whose rows come after
  // (`after_key`, `after_key2`) in key order and that are not sealed under master key
  // `master_id` (plaintext stored before sealing existed included; empty values are not).
  virtual Result<std::vector<SealedTextRow>> ScanSealedTexts(SealedTextPlace place,
                                                             std::string_view master_id,
                                                             std::string_view after_key,
                                                             std::string_view after_key2,
                                                             size_t limit) = 0;
  virtual Result<int64_t> ReplaceSealedTexts(const std::vector<SealedTextUpdate>& updates) = 0;
  // How many stored values name master key `master_id`, per place ("orders" and the sealed-text
  // places): a master key may leave the keyring only when every count is zero.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> CountSealedUnder(
      std::string_view master_id) = 0;

  // The audit chain. AppendAudit gives each entry the next seq and the previous entry's hash
  // (read inside the same write transaction, so orderd and orderctl appending at once still
  // form one chain), asks `chain` for the entry's own hash, and makes the batch durable before
  // returning. The entries come back filled in.
  virtual Status AppendAudit(std::vector<AuditRecord>* entries,
                             const std::function<std::string(const AuditRecord&)>& chain) = 0;
  // Entries matching `query`, oldest first.
  virtual Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) = 0;
  // Up to `limit` entries after `after_seq` exactly as stored, in seq order (for verification).
  virtual Result<std::vector<AuditRecord>> ReadAuditChain(int64_t after_seq, size_t limit) = 0;

  // Cheap round trip to the database, for /readyz.
  virtual Status Ping() = 0;

 protected:
  Store() = default;
};

// PiiCodec: how an order's personal data (customer name, phone, id number, address detail) is
// sealed before it reaches the database and opened after it is read. privacy/ implements it with
// envelope encryption; the store never sees a key. Thread-safe.
class PiiCodec {
 public:
  virtual ~PiiCodec() = default;
  // The sealed form of `order`'s personal data, bound to order.id.
  virtual Result<std::string> Seal(const Order& order) = 0;
  // Fills `order`'s personal data from `sealed`; refuses data sealed for another order or field.
  virtual Status Open(std::string_view sealed, Order* order) = 0;
  // The blind index of a phone number (empty for an empty phone): equal phones, equal index;
  // without the index key it reveals nothing about the phone.
  virtual std::string PhoneIndex(std::string_view phone) = 0;
  // A digest of `text` keyed like the blind index and bound to `context`: equal texts, equal
  // digests, and without the key it confirms no guess about a text. For a fingerprint that is
  // stored beside sealed data and must still be compared (an Idempotency-Key's request).
  virtual Result<std::string> KeyedDigest(std::string_view context, std::string_view text) = 0;
  // Seals a text that may carry personal data (a stored API answer), bound to `context`; Open
  // refuses it under any other context. Texts that were stored before sealing existed (no
  // sealed prefix) open as themselves.
  virtual Result<std::string> SealText(std::string_view context, std::string_view text) = 0;
  virtual Result<std::string> OpenText(std::string_view context, std::string_view stored) = 0;
};

struct SqliteOptions {
  std::string path;             // database file; created with its schema if absent
  size_t read_connections = 4;  // pool for concurrent readers
  int busy_timeout_ms = 5000;   // waits for another process (orderctl) holding the write lock
  // Seals personal data. orderd and orderctl always pass privacy's encrypting codec; nullptr
  // stores it as plain JSON and exists only for store-level unit tests.
  PiiCodec* pii_codec = nullptr;
  // The database records which keyring seals it (a digest under the codec's index key) and
  // refuses another one (keyring_mismatch); true records the codec's keyring instead, for a
  // keyring made anew on purpose (orderd --new-keyring).
  bool adopt_keyring = false;
  // Caps the database at this many pages (0: no cap). Writes past it fail as on a full disk,
  // which is also how tests make a disk fill up.
  int64_t max_database_pages = 0;
};

// Opens (creating and migrating as needed) the SQLite store in WAL mode with synchronous=FULL.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace oc::store
