// TSan annotations for server interceptors.
//
// gRPC runs an interceptor's hooks and later deletes it (~ServerContextBase,
// often on another thread) in an order that its own synchronisation
// guarantees. Debian's gRPC is not built with ThreadSanitizer, so TSan does
// not see that order and reports the delete as racing with the last hook
// (its virtual call, its reads of the interceptor). Call InterceptorHookDone
// at the start of Intercept() and InterceptorBeforeDelete at the start of
// the destructor; both compile to nothing outside TSan builds.
#ifndef ZLAYER_SECRETS_DAEMON_RPC_INTERCEPTOR_TSAN_H_
#define ZLAYER_SECRETS_DAEMON_RPC_INTERCEPTOR_TSAN_H_

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace zlayer::secrets {

inline void InterceptorHookDone(const void* interceptor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(interceptor));
#else
  (void)interceptor;
#endif
}

inline void InterceptorBeforeDelete(const void* interceptor) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(interceptor));
#else
  (void)interceptor;
#endif
}

}  // namespace zlayer::secrets

#endif  // ZLAYER_SECRETS_DAEMON_RPC_INTERCEPTOR_TSAN_H_
