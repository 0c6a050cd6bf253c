// The demo data set: channels, stocked SKUs and a few hundred orders in every status, so a fresh
// install has something to look at. Deterministic content (fixed seed); loading twice adds
// nothing (orders are unique by channel + channel_order_id). Goes through the OrderWriter like
// any client, so every order has its outbox events and valid history.
#pragma once

#include <cstdint>
#include <functional>

#include "core/ids.h"
#include "orders/order_writer.h"

namespace oc::cli {

struct DemoReport {
  int64_t orders_created = 0;
  int64_t orders_existing = 0;
  int64_t transitions = 0;
};

// `progress(done, total)` is called now and then from the loading thread.
Result<DemoReport> LoadDemo(orders::OrderWriter& writer, int64_t order_count,
                            const std::function<void(int64_t, int64_t)>& progress);

}  // namespace oc::cli
