// Webhook URL checks: the forms accepted, and every non-public address range refused.
#include "outbox/url_guard.h"

#include <gtest/gtest.h>

namespace oc::outbox {
namespace {

namespace ip = boost::asio::ip;

TEST(UrlGuardTest, ParsesHttpAndHttpsWithDefaultsAndRefusesOtherForms) {
  auto a = ParseWebhookUrl("http://partner.example.com/hooks/oc?x=1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->scheme, "http");
  EXPECT_EQ(a->host, "partner.example.com");
  EXPECT_EQ(a->port, 80);
  EXPECT_EQ(a->target, "/hooks/oc?x=1");
  auto b = ParseWebhookUrl("HTTPS://partner.example.com:8443");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->scheme, "https");
  EXPECT_EQ(b->port, 8443);
  EXPECT_EQ(b->target, "/");
  auto top = ParseWebhookUrl("http://partner.example.com:65535/");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->port, 65535);
  for (const char* bad :
       {"ftp://x.example.com/", "file:///etc/passwd", "gopher://x/",
        "http://user:pw@x.example.com/", "http:///path", "/relative", "http://x.example.com:0/",
        "http://x.example.com:65536/", "http://x.example.com:99999/",
        "http://x.example.com:123456/", "http://x.example.com/#frag", "not a url", ""}) {
    auto r = ParseWebhookUrl(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), "invalid_webhook_url") << bad;
    }
  }
}

TEST(UrlGuardTest, NonPublicRangesAreRecognised) {
  for (const char* a : {"127.0.0.1",
                        "127.255.0.9",
                        "10.1.2.3",
                        "172.16.0.1",
                        "172.31.255.254",
                        "192.168.1.1",
                        "169.254.169.254",
                        "100.64.0.1",
                        "0.0.0.0",
                        "224.0.0.1",
                        "255.255.255.255",
                        "::1",
                        "::",
                        "fe80::1",
                        "fc00::1",
                        "fd12:3456::1",
                        "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1",
                        "64:ff9b::a00:1",
                        "2001:db8::1"}) {
    EXPECT_TRUE(IsNonPublicAddress(ip::make_address(a))) << a;
  }
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "100.128.0.1",
                        "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"}) {
    EXPECT_FALSE(IsNonPublicAddress(ip::make_address(a))) << a;
  }
}

TEST(UrlGuardTest, LoopbackTargetsNeedThePrivateFlag) {
  auto t = ParseWebhookUrl("http://127.0.0.1:9/hook");
  ASSERT_TRUE(t.ok());
  auto refused = ResolveAllowed(*t, /*allow_private=*/false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), "webhook_target_not_allowed");
  auto allowed = ResolveAllowed(*t, /*allow_private=*/true);
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(allowed->size(), 1u);
  auto localhost = ParseWebhookUrl("http://localhost:9/hook");  // a name, resolved, still refused
  ASSERT_TRUE(localhost.ok());
  EXPECT_FALSE(ResolveAllowed(*localhost, false).ok());
}

}  // namespace
}  // namespace oc::outbox
