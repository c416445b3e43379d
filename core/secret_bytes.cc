#include "core/secret_bytes.h"

#include <sodium.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace zlayer::secrets {
namespace {

// Small values (the common case: values of a few dozen bytes, 32-byte keys)
// come from a pool of locked slabs instead of one sodium_malloc each.
// sodium_malloc maps, guards and locks pages for every allocation, and
// sodium_free unmaps them: about seven system calls, and on a multi-core
// host the munmap/mprotect TLB shootdowns cost ~100 us per value when other
// threads of the process are running (measured: bench/, docs/benchmarks.md).
// A GetSecrets of 20 values spent ~2 ms there.
//
// The pool keeps what matters of sodium_malloc for secrets: slabs are
// mlock'd (best effort, as sodium_malloc does) so they are not swapped,
// excluded from core dumps (MADV_DONTDUMP), and every block is wiped with
// sodium_memzero when it is freed. What it gives up is the guard page around
// each allocation (an overflow hits a neighbouring block instead of
// faulting). Slabs are never unmapped; they are reused. Larger values keep
// using sodium_malloc.
constexpr size_t kSlabBytes = size_t{64} << 10;
constexpr size_t kMinBlock = 32;
constexpr size_t kMaxPooled = 4096;
constexpr int kClasses = 8;  // 32, 64, ..., 4096

int ClassOf(size_t size) {
  int c = 0;
  size_t block = kMinBlock;
  while (block < size) {
    block <<= 1;
    ++c;
  }
  return c;
}

class SecurePool {
 public:
  static SecurePool& Get() {
    static SecurePool* pool = new SecurePool();  // never destroyed
    return *pool;
  }

  // nullptr when the system is out of memory.
  void* Allocate(int c) {
    absl::MutexLock lock(&mu_[c]);
    if (free_[c].empty() && !Grow(c)) return nullptr;
    void* p = free_[c].back();
    free_[c].pop_back();
    return p;
  }

  void Free(void* p, int c) {
    sodium_memzero(p, kMinBlock << c);
    absl::MutexLock lock(&mu_[c]);
    free_[c].push_back(p);
  }

 private:
  bool Grow(int c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_[c]) {
    void* slab = mmap(nullptr, kSlabBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slab == MAP_FAILED) return false;
    // Both best effort, as in sodium_malloc: RLIMIT_MEMLOCK may refuse.
    (void)mlock(slab, kSlabBytes);
#ifdef MADV_DONTDUMP
    (void)madvise(slab, kSlabBytes, MADV_DONTDUMP);
#endif
    const size_t block = kMinBlock << c;
    auto* bytes = static_cast<uint8_t*>(slab);
    for (size_t off = 0; off + block <= kSlabBytes; off += block) {
      free_[c].push_back(bytes + off);
    }
    return true;
  }

  absl::Mutex mu_[kClasses];
  std::vector<void*> free_[kClasses];
};

uint8_t* AllocateSecure(size_t size) {
  if (size == 0) return nullptr;
  // sodium_init is idempotent and thread-safe.
  if (sodium_init() < 0) std::abort();
  void* p = size <= kMaxPooled ? SecurePool::Get().Allocate(ClassOf(size))
                               : sodium_malloc(size);
  // Out of locked memory is not recoverable in a meaningful way; failing loudly
  // beats silently keeping a secret in ordinary memory.
  if (p == nullptr) std::abort();
  return static_cast<uint8_t*>(p);
}

void FreeSecure(uint8_t* p, size_t size) {
  if (p == nullptr) return;
  if (size <= kMaxPooled) {
    SecurePool::Get().Free(p, ClassOf(size));
  } else {
    // sodium_free wipes the region before unmapping it.
    sodium_free(p);
  }
}

}  // namespace

SecretBytes::SecretBytes(size_t size)
    : data_(AllocateSecure(size)), size_(size) {}

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
  FreeSecure(data_, size_);
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
