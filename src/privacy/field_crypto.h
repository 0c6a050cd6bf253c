// Field encryption at rest: AES-256-GCM envelope encryption of an order's personal data.
//
// Each order gets a fresh 256-bit data key (DEK). Every personal field (customer name, phone,
// id number, address detail) is encrypted under the DEK with AES-256-GCM and its own random
// nonce, with "order id + field name" as associated data; the DEK itself is wrapped (AES-256-GCM)
// by a master key from a KeyProvider, bound to the order id and the master key's id. So a
// ciphertext copied into another row or another field fails authentication instead of
// decrypting, and rotating the master key only re-wraps DEKs. Keys and plaintext buffers are
// wiped after use. OpenSSL EVP only — no home-made primitives. Thread-safe.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "store/store.h"

namespace oc::privacy {

inline constexpr size_t kKeyBytes = 32;  // AES-256
// The shortest time a rotation must have been in force before the key it replaced may go.
inline constexpr int64_t kRetireActiveMinMs = 10 * 60'000;

// A 256-bit key that wipes itself.
struct SecretKey {
  std::string id;
  unsigned char bytes[kKeyBytes] = {};
  SecretKey() = default;
  SecretKey(const SecretKey& other);
  SecretKey& operator=(const SecretKey& other);
  ~SecretKey();
};

// Where master keys come from. The embedded default is a keyring file beside the database;
// a KMS-backed provider can replace it without touching the callers.
class KeyProvider {
 public:
  virtual ~KeyProvider() = default;
  virtual Result<SecretKey> ActiveMasterKey() = 0;               // wraps new data keys
  virtual Result<SecretKey> MasterKey(std::string_view id) = 0;  // unwraps existing ones
  virtual Result<SecretKey> IndexKey() = 0;  // keys the blind index (never rotated)
};

// The embedded keyring: a JSON file with mode 0600, created at first start, never inside the
// database (so a copied or backed-up database holds ciphertext only). Refuses a keyring that
// others may read. Rotation (`orderctl keys rotate-master`) adds a master key and makes it the
// active one by atomically replacing the file; a running orderd picks it up through
// ReloadIfChanged (its maintenance thread calls it every second) and keeps every older master to
// read what they wrapped. Thread-safe.
class FileKeyProvider final : public KeyProvider {
 public:
  static Result<std::unique_ptr<FileKeyProvider>> OpenOrCreate(const std::string& path,
                                                               Random& random);
  // Adds a fresh master key to the keyring at `path` and makes it active; returns its id.
  static Result<std::string> RotateMaster(const std::string& path, Random& random, int64_t now_ms);
  // Removes master key `id` from the keyring at `path` for good. Refused (Conflict) for the
  // active key, and while the active key has been active for less than `min_active_ms`, which
  // is at least kRetireActiveMinMs (a process that read the keyring before the rotation may
  // still be sealing under the old key, and what it sealed may still wait in the writer's queue
  // when the count below is taken); `still_used` runs under the keyring's lock, so no rotation
  // interleaves, and refuses when anything still names the key. Unknown ids are NotFound.
  // Running processes forget the key at their next reload; later rotations never reuse its id.
  static Status RetireMaster(const std::string& path, std::string_view id, int64_t now_ms,
                             int64_t min_active_ms,
                             const std::function<Status(std::string_view id)>& still_used);

  Result<SecretKey> ActiveMasterKey() override;
  Result<SecretKey> MasterKey(std::string_view id) override;
  Result<SecretKey> IndexKey() override;
  std::string active_id() const;
  // Re-reads the file if it changed since it was read; true when it did.
  Result<bool> ReloadIfChanged();

 private:
  struct Contents {
    std::string active;
    std::vector<SecretKey> masters;
    SecretKey index_key;
    std::optional<int64_t> activated_at_ms;  // when `active` became active (absent before)
    // Master keys retired for good: a running process drops them at its next reload (a key
    // merely missing from the file it keeps, so a slip of an editor loses no data).
    std::vector<std::string> retired;
  };
  static Status Write(const std::string& path, const Contents& c);
  static Result<Contents> Read(const std::string& path, struct stat* st);
  FileKeyProvider() = default;
  std::string path_;
  mutable std::shared_mutex mu_;
  std::mutex reload_mu_;
  Contents keys_;
  struct timespec mtime_ {};
  ino_t inode_ = 0;
};

// The PiiCodec the store uses: seals and opens an order's personal data with the envelope above.
class EnvelopePiiCodec final : public store::PiiCodec {
 public:
  EnvelopePiiCodec(KeyProvider& keys, Random& random) : keys_(keys), random_(random) {}
  Result<std::string> Seal(const Order& order) override;
  Status Open(std::string_view sealed, Order* order) override;
  std::string PhoneIndex(std::string_view phone) override;
  // "k1:" + hex HMAC-SHA256 under the index key of "oc:digest:v1:<context>:<text>".
  Result<std::string> KeyedDigest(std::string_view context, std::string_view text) override;
  // "oc1:<master id>:<base64(nonce || ciphertext || tag)>", AES-256-GCM under the master key
  // with a random nonce and "oc:text:v1:<context>:<master id>" as associated data. For small,
  // short-lived records (stored API answers); orders use the per-order data key envelope.
  Result<std::string> SealText(std::string_view context, std::string_view text) override;
  Result<std::string> OpenText(std::string_view context, std::string_view stored) override;
  // `stored` (a SealText value, or plaintext from before sealing existed) sealed afresh under
  // the active master key, or nullopt when it already is.
  Result<std::optional<std::string>> ResealText(std::string_view context, std::string_view stored);
  // The id of the master key that seals new data.
  Result<std::string> ActiveMasterId();
  // `sealed` with its data key re-wrapped under the active master key (the field ciphertexts do
  // not change), or nullopt when it already is.
  Result<std::optional<std::string>> Rewrap(std::string_view order_id, std::string_view sealed);

 private:
  KeyProvider& keys_;
  Random& random_;
};

// Digits of a phone number as the blind index sees them: separators dropped, and a leading
// "86" country code removed from a 13-digit mainland number, so "+86 138-1234-5678" and
// "13812345678" index alike.
std::string NormalizePhone(std::string_view phone);

// Overwrites (OPENSSL_cleanse) and clears `order`'s plaintext personal data, for paths that held
// it only to render or reveal it.
void WipePii(Order* order);

}  // namespace oc::privacy
