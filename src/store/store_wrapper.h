// StoreWrapper: a Store that forwards every call to another Store.
//
// The seam for tests and fault injection (like LevelDB's EnvWrapper): subclass it and override
// only what the test needs — block BeginWrite() to pile commands into one batch, fail the N-th
// Sync() to prove fail-stop. Thread-safety is the target's.
#pragma once

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
  Status InsertApiKey(const ApiKeyRecord& record) override { return target_.InsertApiKey(record); }
  Result<std::optional<ApiKeyRecord>> FindApiKeyByHash(std::string_view key_hash) override {
    return target_.FindApiKeyByHash(key_hash);
  }
  Result<std::optional<ApiKeyRecord>> FindApiKeyById(std::string_view id) override {
    return target_.FindApiKeyById(id);
  }
  Status Ping() override { return target_.Ping(); }

 protected:
  Store& target() { return target_; }

 private:
  Store& target_;
};

}  // namespace oc::store
