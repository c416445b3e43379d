// SecretBytes: the one type that holds plaintext secret values and keys.
//
// Memory is locked (mlock, best effort), kept out of core dumps and wiped
// with sodium_memzero on free: values up to 4 KiB come from a pool of such
// slabs, larger ones from libsodium's guarded allocator (sodium_malloc); see
// secret_bytes.cc for why. Long-lived keys ask for guarded memory explicitly
// (Guarded(), CloneGuarded()): their own sodium_malloc region between guard
// pages, so an overflow from a neighbour faults instead of reading them.
// A failed mlock is reported once per process to the handler set with
// SetMemoryLockFailureHandler (the daemon logs it). The type is move-only;
// copies are explicit (Clone()). It never prints its contents: there is no
// operator<<, and DebugString() is "[REDACTED]". Raw bytes are reachable only
// through one greppable accessor, InsecureView().
//
//   SecretBytes value = SecretBytes::FromString(input);
//   if (value.ConstantTimeEquals(other)) ...
//   Write(fd, value.InsecureView());  // the one place bytes leave the type
#ifndef ZLAYER_SECRETS_CORE_BASE_SECRET_BYTES_H_
#define ZLAYER_SECRETS_CORE_BASE_SECRET_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace zlayer::secrets {

class SecretBytes {
 public:
  // An empty value (no allocation).
  SecretBytes() = default;
  // Uninitialised storage of `size` bytes to be filled via MutableData().
  explicit SecretBytes(size_t size);
  // Copies `bytes` into secure memory. The caller should wipe its own copy.
  static SecretBytes FromString(absl::string_view bytes);
  // `size` bytes from libsodium's CSPRNG.
  static SecretBytes Random(size_t size);
  // Uninitialised storage of `size` bytes in its own sodium_malloc region
  // (guard pages before and after, locked, wiped and unmapped on free): for
  // keys that live as long as the process. Slower to allocate and free
  // (~7 system calls) than the pooled default, so not for per-call values.
  static SecretBytes Guarded(size_t size);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  // An explicit deep copy (copies of secrets should be rare and visible).
  // A copy of a guarded value is guarded too.
  SecretBytes Clone() const;
  // A deep copy in guarded memory (see Guarded()).
  SecretBytes CloneGuarded() const;
  // True if this value lives in its own guarded region.
  bool guarded() const { return guarded_; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Constant-time comparison of contents (length is not secret).
  bool ConstantTimeEquals(const SecretBytes& other) const;
  bool ConstantTimeEquals(absl::string_view other) const;

  // The raw bytes. Named so that every use is easy to find and review.
  absl::string_view InsecureView() const {
    return absl::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  // Writable bytes (for filling freshly sized storage).
  uint8_t* MutableData() { return data_; }
  const uint8_t* data() const { return data_; }

  // Always "[REDACTED]".
  std::string DebugString() const { return "[REDACTED]"; }

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool guarded_ = false;
};

// Overwrites the whole buffer of `s` with zeros (sodium_memzero over
// capacity(), not only size(): bytes of a longer earlier value stay in the
// buffer after a shrink) and clears it; for the few std::string buffers that
// must hold a secret briefly (protobuf fields, I/O).
void WipeString(std::string* s);

// Called when mlock refuses to lock memory that holds secrets (typically
// RLIMIT_MEMLOCK is too low and the process lacks CAP_IPC_LOCK): `bytes` is
// the size of the region that stays swappable, `err` the errno. Invoked at
// most once per process (the first failure), from whichever thread
// allocated; later failures are only counted (MemoryLockFailures()).
using MemoryLockFailureHandler = void (*)(size_t bytes, int err);
// Installs the handler (nullptr: none). Thread-safe. The failure that
// happened before a handler was installed is passed to it at once.
void SetMemoryLockFailureHandler(MemoryLockFailureHandler handler);
// How many regions mlock refused so far in this process.
uint64_t MemoryLockFailures();

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_CORE_BASE_SECRET_BYTES_H_
