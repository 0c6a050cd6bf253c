// StoreWrapper: a Store that forwards every call to another Store.
//
// The seam for tests and fault injection (like LevelDB's EnvWrapper): subclass it and override
// only what the test needs — block BeginWrite() to pile commands into one batch, fail the N-th
// Sync() to prove fail-stop. Thread-safety is the target's.
#pragma once

#include <memory>

#include "store/store.h"

namespace oc::store {

class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store& target) : target_(target) {}

  Result<std::unique_ptr<WriteTransaction>> BeginWrite() override { return target_.BeginWrite(); }
  Status Sync() override { return target_.Sync(); }
  int64_t fsyncs() const override { return target_.fsyncs(); }
  Result<std::optional<Order>> GetOrder(std::string_view id) override {
    return target_.GetOrder(id);
  }
  Result<OrderPage> ListOrders(const OrderQuery& query) override {
    return target_.ListOrders(query);
  }
  Result<std::vector<std::pair<OrderStatus, int64_t>>> CountOrdersByStatus() override {
    return target_.CountOrdersByStatus();
  }
  Result<std::vector<OutboxEvent>> ReadOutbox(int64_t after_seq, size_t limit) override {
    return target_.ReadOutbox(after_seq, limit);
  }
  Result<std::vector<StockRecord>> LoadStock() override { return target_.LoadStock(); }
  Result<std::optional<StockRecord>> GetStock(std::string_view sku) override {
    return target_.GetStock(sku);
  }
  Result<std::optional<ReservationRecord>> GetReservation(std::string_view id) override {
    return target_.GetReservation(id);
  }
  Result<std::vector<std::pair<int64_t, int64_t>>> ActiveReservationExpiries() override {
    return target_.ActiveReservationExpiries();
  }
  Result<int64_t> MaxReservationNo() override { return target_.MaxReservationNo(); }
  const NumberMask& hold_id_mask() const override { return target_.hold_id_mask(); }
  Result<std::vector<OversoldRecord>> ListOversold() override { return target_.ListOversold(); }
  Status InsertSubscription(const SubscriptionRecord& r) override {
    return target_.InsertSubscription(r);
  }
  Status DeleteSubscription(std::string_view id) override { return target_.DeleteSubscription(id); }
  Result<std::vector<SubscriptionRecord>> ListSubscriptions() override {
    return target_.ListSubscriptions();
  }
  Status RecordDelivery(const DeliveryProgress& p) override { return target_.RecordDelivery(p); }
  Result<std::vector<DeadLetterRecord>> ListDeadLetters(const DeadLetterQuery& q) override {
    return target_.ListDeadLetters(q);
  }
  Result<std::optional<DeadLetterRecord>> GetDeadLetter(std::string_view id) override {
    return target_.GetDeadLetter(id);
  }
  Status SetDeadLetterState(std::string_view id, DeadLetterState state, int64_t now) override {
    return target_.SetDeadLetterState(id, state, now);
  }
  Result<std::vector<ParkedEvent>> ListParked(std::string_view sub) override {
    return target_.ListParked(sub);
  }
  Result<std::vector<OutboxEvent>> ReadOutboxSeqs(const std::vector<int64_t>& seqs) override {
    return target_.ReadOutboxSeqs(seqs);
  }
  Result<int64_t> MaxOutboxSeq() override { return target_.MaxOutboxSeq(); }
  Status InsertApiKey(const ApiKeyRecord& record) override { return target_.InsertApiKey(record); }
  Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(std::string_view key_hash) override {
    return target_.FindApiKeyByHash(key_hash);
  }
  Result<std::optional<ApiKeyRecord>> FindApiKeyById(std::string_view id) override {
    return target_.FindApiKeyById(id);
  }
  Result<std::vector<SealedPiiRow>> ScanSealedPii(int64_t after_seq, size_t limit) override {
    return target_.ScanSealedPii(after_seq, limit);
  }
  Result<int64_t> ReplaceSealedPii(const std::vector<SealedPiiUpdate>& updates) override {
    return target_.ReplaceSealedPii(updates);
  }
  Result<std::vector<SealedTextRow>> ScanSealedTexts(SealedTextPlace place,
                                                     std::string_view master_id,
                                                     std::string_view after_key,
                                                     std::string_view after_key2,
                                                     size_t limit) override {
    return target_.ScanSealedTexts(place, master_id, after_key, after_key2, limit);
  }
  Result<int64_t> ReplaceSealedTexts(const std::vector<SealedTextUpdate>& updates) override {
    return target_.ReplaceSealedTexts(updates);
  }
  Result<std::vector<std::pair<std::string, int64_t>>> CountSealedUnder(
      std::string_view master_id) override {
    return target_.CountSealedUnder(master_id);
  }
  Status AppendAudit(std::vector<AuditRecord>* entries,
                     const std::function<std::string(const AuditRecord&)>& chain) override {
    return target_.AppendAudit(entries, chain);
  }
  Result<std::vector<AuditRecord>> ListAudit(const AuditQuery& query) override {
    return target_.ListAudit(query);
  }
  Result<std::vector<AuditRecord>> ReadAuditChain(int64_t after_seq, size_t limit) override {
    return target_.ReadAuditChain(after_seq, limit);
  }
  Status Ping() override { return target_.Ping(); }

 protected:
  Store& target() { return target_; }

 private:
  Store& target_;
};

// The same seam for a transaction: forwards every call to another WriteTransaction.
class WriteTransactionWrapper : public WriteTransaction {
 public:
  explicit WriteTransactionWrapper(std::unique_ptr<WriteTransaction> target)
      : target_(std::move(target)) {}

  int64_t writes() const override { return target_->writes(); }
  bool lost() const override { return target_->lost(); }
  Result<std::optional<Order>> FindOrder(std::string_view id) override {
    return target_->FindOrder(id);
  }
  Result<std::optional<std::string>> FindOrderIdByChannelRef(
      std::string_view channel, std::string_view channel_order_id) override {
    return target_->FindOrderIdByChannelRef(channel, channel_order_id);
  }
  Status InsertOrder(const Order& order) override { return target_->InsertOrder(order); }
  Status UpdateOrder(const Order& order) override { return target_->UpdateOrder(order); }
  Status AppendOutbox(const OutboxEvent& event) override { return target_->AppendOutbox(event); }
  Result<std::optional<IdempotencyRecord>> FindIdempotency(std::string_view principal_id,
                                                           std::string_view key) override {
    return target_->FindIdempotency(principal_id, key);
  }
  Status PutStock(const StockRecord& stock) override { return target_->PutStock(stock); }
  Status SetCategory(std::string_view sku, std::string_view category) override {
    return target_->SetCategory(sku, category);
  }
  Result<std::optional<StockRecord>> FindStock(std::string_view sku) override {
    return target_->FindStock(sku);
  }
  Result<std::optional<ReservationRecord>> FindReservation(std::string_view id) override {
    return target_->FindReservation(id);
  }
  Result<std::optional<ReservationRecord>> FindReservationByNo(int64_t no) override {
    return target_->FindReservationByNo(no);
  }
  Status InsertReservations(const std::vector<const ReservationRecord*>& reservations) override {
    return target_->InsertReservations(reservations);
  }
  Status UpdateReservation(const ReservationRecord& reservation) override {
    return target_->UpdateReservation(reservation);
  }
  Result<HoldPurgeStep> PurgeEndedReservations(int64_t from_no, int64_t ended_before_ms,
                                               size_t examine_max) override {
    return target_->PurgeEndedReservations(from_no, ended_before_ms, examine_max);
  }
  Status InsertOversold(const OversoldRecord& record) override {
    return target_->InsertOversold(record);
  }
  Status PutIdempotency(std::string_view principal_id, std::string_view key,
                        const IdempotencyRecord& record, int64_t now_ms) override {
    return target_->PutIdempotency(principal_id, key, record, now_ms);
  }
  Result<int64_t> PurgeIdempotency(int64_t stored_before_ms, size_t max_rows) override {
    return target_->PurgeIdempotency(stored_before_ms, max_rows);
  }
  Status Commit() override { return target_->Commit(); }

 private:
  std::unique_ptr<WriteTransaction> target_;
};

}  // namespace oc::store
