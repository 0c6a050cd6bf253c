-- PostgreSQL twin of the rows orderd writes for one created order (src/store/sqlite_store.cc,
-- migration 1): the `orders` row, its `order_lines` rows and one `outbox` event, with the same
-- columns, keys and secondary indexes, so the peer does the same index maintenance per order.
-- Used only by bench/run_order_create.sh against a throwaway server.
DROP TABLE IF EXISTS outbox, order_lines, orders;

CREATE TABLE orders (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  channel TEXT NOT NULL,
  channel_order_id TEXT NOT NULL,
  status TEXT NOT NULL,
  refund_origin TEXT,
  version BIGINT NOT NULL,
  currency TEXT NOT NULL,
  total BIGINT NOT NULL,
  payment_method TEXT NOT NULL,
  assigned_agent TEXT NOT NULL DEFAULT '',
  reservation_id TEXT NOT NULL DEFAULT '',
  customer_nickname TEXT NOT NULL DEFAULT '',
  province TEXT NOT NULL DEFAULT '',
  city TEXT NOT NULL DEFAULT '',
  district TEXT NOT NULL DEFAULT '',
  pii TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  risk_flags TEXT NOT NULL DEFAULT '[]',
  health_score BIGINT,
  placed_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  UNIQUE (channel, channel_order_id)
);
CREATE INDEX orders_status ON orders(status, seq);
CREATE INDEX orders_channel ON orders(channel, seq);
CREATE INDEX orders_agent ON orders(assigned_agent, seq);

CREATE TABLE order_lines (
  order_seq BIGINT NOT NULL,
  line_no BIGINT NOT NULL,
  sku TEXT NOT NULL,
  name TEXT NOT NULL,
  qty BIGINT NOT NULL,
  unit_price BIGINT NOT NULL,
  PRIMARY KEY (order_seq, line_no)
);

CREATE TABLE outbox (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  order_id TEXT NOT NULL,
  order_version BIGINT NOT NULL,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
