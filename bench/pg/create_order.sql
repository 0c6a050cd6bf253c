-- pgbench script: one durable order creation per transaction, the same rows orderd writes for
-- API.md's example order (orders + one order_lines row + one outbox event), three round trips
-- inside BEGIN ... COMMIT like an application would send them.
-- Unique ids: the run id (-D run=...), the pgbench client id and a per-client counter
-- (-D n=0; pgbench keeps a client's variables across its transactions).
-- Keep ':' followed by a letter out of literals: pgbench would take it for a variable.
\set n :n + 1
\set coid :client_id * 100000000 + :n
BEGIN;
INSERT INTO orders (id, channel, channel_order_id, status, version, currency, total,
  payment_method, customer_nickname, province, city, district, pii, placed_at, created_at,
  updated_at, created_by)
VALUES ('ord_' || :run || '_' || :coid, 'douyin', 'DY-' || :run || '-' || :coid,
  'pending_payment', 1, 'CNY', 129900, 'wechat_pay', '小李', '浙江省', '杭州市', '西湖区',
  '{"name":"李四","phone":"13812345678","detail":"文三路 1 号"}', 1794355201000,
  (extract(epoch from clock_timestamp()) * 1000)::bigint,
  (extract(epoch from clock_timestamp()) * 1000)::bigint, 'key_bench_channel')
RETURNING seq AS order_seq \gset
INSERT INTO order_lines (order_seq, line_no, sku, name, qty, unit_price)
VALUES (:order_seq, 0, 'AIR-PURIFIER-X1', '空气净化器', 1, 129900);
INSERT INTO outbox (id, type, order_id, order_version, payload, created_at)
VALUES ('evt_' || :run || '_' || :coid, 'order.created', 'ord_' || :run || '_' || :coid, 1,
  '{"id":"evt_' || :run || '_' || :coid || '","type":"order.created","order_id":"ord_' || :run
    || '_' || :coid || '","order_version":1,"status":"pending_payment","channel":"douyin",'
    || '"channel_order_id":"DY-' || :run || '-' || :coid || '","occurred_at":"'
    || to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS"Z"') || '"}',
  (extract(epoch from clock_timestamp()) * 1000)::bigint);
COMMIT;
