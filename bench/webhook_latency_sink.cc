// webhook_latency_sink: a receiver for bench/run_webhook_latency.sh. Accepts OrderCenter
// deliveries (POST {"events": [...]}) on 127.0.0.1, answers 200 at once, and for every event
// records receipt time minus the event's `occurred_at` (the commit time orderd stamped on the
// change): status change -> receipt latency, per subscriber path. Prints "listening PORT" when
// ready; on SIGTERM/SIGINT prints one JSON summary (events, requests, p50/p99/max ms, overall
// and per path) and exits 0. One thread per connection: the relay keeps one connection per
// subscription.
#include <signal.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace bj = boost::json;
using tcp = asio::ip::tcp;

namespace {

std::mutex mu;
std::map<std::string, std::vector<double>> latencies_ms;  // per target path
std::map<std::string, int64_t> requests;

int64_t NowUnixUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Serve(tcp::socket socket) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (true) {
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    int64_t received_us = NowUnixUs();
    std::vector<double> batch;
    bj::error_code jec;
    bj::value v = bj::parse(req.body(), jec);
    if (!jec && v.is_object() && v.as_object().contains("events")) {
      for (const auto& e : v.at("events").as_array()) {
        int64_t occurred_ms = 0;
        const bj::value* at = e.as_object().if_contains("occurred_at");
        if (at && at->is_string() && oc::ParseRfc3339(at->as_string().c_str(), &occurred_ms)) {
          batch.push_back(static_cast<double>(received_us - occurred_ms * 1000) / 1000.0);
        }
      }
    }
    {
      std::lock_guard lock(mu);
      auto& l = latencies_ms[std::string(req.target())];
      l.insert(l.end(), batch.begin(), batch.end());
      ++requests[std::string(req.target())];
    }
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = "{\"ok\":true}";
    res.prepare_payload();
    http::write(socket, res, ec);
    if (ec || !req.keep_alive()) return;
  }
}

bj::object Summary(std::vector<double> l, int64_t reqs) {
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) {
    if (l.empty()) return 0.0;
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(l.size() - 1) + 0.5);
    return l[std::min(i, l.size() - 1)];
  };
  return bj::object{{"events", static_cast<int64_t>(l.size())}, {"requests", reqs},
                    {"p50_ms", pct(50)}, {"p99_ms", pct(99)}, {"max_ms", l.empty() ? 0.0 : l.back()}};
}

}  // namespace

int main() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::printf("listening %u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  std::thread accepting([&] {
    while (true) {
      beast::error_code ec;
      tcp::socket s(io);
      acceptor.accept(s, ec);
      if (ec) return;
      s.set_option(tcp::no_delay(true), ec);
      std::thread(Serve, std::move(s)).detach();
    }
  });
  int sig = 0;
  sigwait(&stop, &sig);
  std::lock_guard lock(mu);
  std::vector<double> all;
  int64_t all_requests = 0;
  bj::object per_path;
  for (auto& [path, l] : latencies_ms) {
    all.insert(all.end(), l.begin(), l.end());
    all_requests += requests[path];
    per_path[path] = Summary(l, requests[path]);
  }
  bj::object out = Summary(all, all_requests);
  out["per_subscriber"] = std::move(per_path);
  std::printf("%s\n", bj::serialize(out).c_str());
  std::fflush(stdout);
  std::_Exit(0);  // connection threads are detached and may be blocked in read
}
