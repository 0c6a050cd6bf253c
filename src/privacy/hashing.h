// Hashing primitives over OpenSSL EVP: SHA-256 (as bytes or hex) and HMAC-SHA256 (hex).
// Never hand-rolled; thread-safe (SHA-256 keeps one digest context per thread, nothing shared).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace oc::privacy {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest Sha256(std::string_view data);
std::string Sha256Hex(std::string_view data);
std::string HmacSha256Hex(std::string_view key, std::string_view data);
std::string HexEncode(const unsigned char* data, size_t len);
std::string Base32Encode(const unsigned char* data, size_t len);  // RFC 4648, no padding

}  // namespace oc::privacy
