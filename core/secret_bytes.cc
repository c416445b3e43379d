#include "core/secret_bytes.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace zlayer::secrets {
namespace {

uint8_t* AllocateSecure(size_t size) {
  if (size == 0) return nullptr;
  // sodium_init is idempotent and thread-safe.
  if (sodium_init() < 0) std::abort();
  void* p = sodium_malloc(size);
  // Out of locked memory is not recoverable in a meaningful way; failing loudly
  // beats silently keeping a secret in ordinary memory.
  if (p == nullptr) std::abort();
  return static_cast<uint8_t*>(p);
}

}  // namespace

SecretBytes::SecretBytes(size_t size) : data_(AllocateSecure(size)), size_(size) {}

SecretBytes SecretBytes::FromString(absl::string_view bytes) {
  SecretBytes out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data_, bytes.data(), bytes.size());
  return out;
}

SecretBytes SecretBytes::Random(size_t size) {
  SecretBytes out(size);
  if (size > 0) randombytes_buf(out.data_, size);
  return out;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Release(); }

void SecretBytes::Release() {
  // sodium_free wipes the region before unmapping it.
  if (data_ != nullptr) sodium_free(data_);
  data_ = nullptr;
  size_ = 0;
}

SecretBytes SecretBytes::Clone() const { return FromString(InsecureView()); }

bool SecretBytes::ConstantTimeEquals(const SecretBytes& other) const {
  return ConstantTimeEquals(other.InsecureView());
}

bool SecretBytes::ConstantTimeEquals(absl::string_view other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void WipeString(std::string* s) {
  if (s == nullptr) return;
  if (!s->empty()) sodium_memzero(&(*s)[0], s->size());
  s->clear();
}

}  // namespace zlayer::secrets
