#include "core/base/secret_bytes.h"

#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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

// mlock failures: counted, and the first one handed to the handler once.
std::atomic<uint64_t> lock_failures{0};
absl::Mutex lock_report_mu(absl::kConstInit);
MemoryLockFailureHandler lock_handler ABSL_GUARDED_BY(lock_report_mu) = nullptr;
bool lock_reported ABSL_GUARDED_BY(lock_report_mu) = false;
size_t first_failure_bytes ABSL_GUARDED_BY(lock_report_mu) = 0;
int first_failure_errno ABSL_GUARDED_BY(lock_report_mu) = 0;

void ReportLockFailure(size_t bytes, int err) {
  if (lock_failures.fetch_add(1, std::memory_order_relaxed) != 0) return;
  MemoryLockFailureHandler handler;
  {
    absl::MutexLock lock(&lock_report_mu);
    first_failure_bytes = bytes;
    first_failure_errno = err;
    handler = lock_handler;
    if (handler == nullptr) return;  // reported when a handler is installed
    lock_reported = true;
  }
  handler(bytes, err);
}

// Locks the pages holding [p, p + size); reports a refusal.
void LockOrReport(void* p, size_t size) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + size;
  if (::mlock(reinterpret_cast<void*>(start), end - start) != 0) {
    ReportLockFailure(end - start, errno);
  }
}

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
    // Best effort, as in sodium_malloc: RLIMIT_MEMLOCK may refuse, and the
    // slab is then used unlocked; the refusal is reported (once).
    if (mlock(slab, kSlabBytes) != 0) ReportLockFailure(kSlabBytes, errno);
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

// sodium_malloc ignores a failed mlock; locking the same pages again (locks
// do not stack) tells whether they are locked.
void* GuardedMalloc(size_t size) {
  void* p = sodium_malloc(size);
  if (p != nullptr) LockOrReport(p, size);
  return p;
}

uint8_t* AllocateSecure(size_t size, bool guarded) {
  if (size == 0) return nullptr;
  // sodium_init is idempotent and thread-safe.
  if (sodium_init() < 0) std::abort();
  void* p = size <= kMaxPooled && !guarded
                ? SecurePool::Get().Allocate(ClassOf(size))
                : GuardedMalloc(size);
  // Out of memory is not recoverable in a meaningful way; failing loudly
  // beats silently keeping a secret in ordinary memory.
  if (p == nullptr) std::abort();
  return static_cast<uint8_t*>(p);
}

void FreeSecure(uint8_t* p, size_t size, bool guarded) {
  if (p == nullptr) return;
  if (size <= kMaxPooled && !guarded) {
    SecurePool::Get().Free(p, ClassOf(size));
  } else {
    // sodium_free wipes the region before unmapping it.
    sodium_free(p);
  }
}

}  // namespace

SecretBytes::SecretBytes(size_t size)
    : data_(AllocateSecure(size, /*guarded=*/false)), size_(size) {}

SecretBytes SecretBytes::Guarded(size_t size) {
  SecretBytes out;
  out.data_ = AllocateSecure(size, /*guarded=*/true);
  out.size_ = size;
  out.guarded_ = size > 0;
  return out;
}

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
      size_(std::exchange(other.size_, 0)),
      guarded_(std::exchange(other.guarded_, false)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    guarded_ = std::exchange(other.guarded_, false);
  }
  return *this;
}

SecretBytes::~SecretBytes() { Release(); }

void SecretBytes::Release() {
  FreeSecure(data_, size_, guarded_);
  data_ = nullptr;
  size_ = 0;
  guarded_ = false;
}

SecretBytes SecretBytes::Clone() const {
  return guarded_ ? CloneGuarded() : FromString(InsecureView());
}

SecretBytes SecretBytes::CloneGuarded() const {
  SecretBytes out = Guarded(size_);
  if (size_ > 0) std::memcpy(out.data_, data_, size_);
  return out;
}

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
  // Growing to capacity() never reallocates, and makes every byte of the
  // buffer (also those past a shrunk value's end) part of the string.
  s->resize(s->capacity());
  if (!s->empty()) sodium_memzero(&(*s)[0], s->size());
  s->clear();
}

void SetMemoryLockFailureHandler(MemoryLockFailureHandler handler) {
  size_t bytes = 0;
  int err = 0;
  {
    absl::MutexLock lock(&lock_report_mu);
    lock_handler = handler;
    if (handler == nullptr || lock_reported ||
        lock_failures.load(std::memory_order_relaxed) == 0 ||
        first_failure_bytes == 0) {
      return;
    }
    lock_reported = true;
    bytes = first_failure_bytes;
    err = first_failure_errno;
  }
  handler(bytes, err);
}

uint64_t MemoryLockFailures() {
  return lock_failures.load(std::memory_order_relaxed);
}

}  // namespace zlayer::secrets
