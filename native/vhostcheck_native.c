/*
 * vhostcheck_native — the small set of Linux system calls the vhost-user,
 * vhost-vdpa and VDUSE adapters need and Node does not expose: memfd, shared
 * mmap, eventfd, poll, UNIX sockets with SCM_RIGHTS, ioctl, raw read/write.
 *
 * Plain C, Node-API (NAPI_VERSION 8) only, plus libuv's uv_poll/uv_timer for
 * pollAsync. Every fd is a plain int owned by the caller. Every fd this module
 * creates is close-on-exec. System call failures throw an Error whose `code` is
 * the errno name ('EAGAIN'), `errno` the positive errno number and `syscall`
 * the call that failed; bad arguments throw a TypeError/RangeError with code
 * ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE.
 *
 * pollAsync design: a uv_poll_t watches the fd on the event loop's own epoll
 * instance and a uv_timer_t bounds the wait. No thread-pool slot is held while
 * waiting (the pool has 4 threads by default; four concurrent waitCall()s on a
 * hung target would otherwise stall fs writes and delay each other's
 * timeouts, since a queued work item's poll() only starts when a thread frees
 * up). Costs, handled below: uv_poll_init sets O_NONBLOCK on the open file
 * description (we restore the flags: the description may be shared with a
 * back-end through SCM_RIGHTS); libuv forbids two poll handles on one fd (a
 * second pollAsync on the same fd rejects with EBUSY); and an fd must not be
 * closed under an active epoll registration (our close() first cancels pending
 * pollAsync calls on that fd, which reject with ECANCELED). Pending waits are
 * torn down by an async cleanup hook when a worker's environment exits.
 */
#include <node_api.h>
#include <uv.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEND_FDS 16
#define MAX_RECV_FDS 253 /* SCM_MAX_FD in the kernel */
#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */
#define MAX_IO_LEN (1LL << 30)
#define MAX_ARGS 5

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

static napi_value make_errno_error(napi_env env, const char *call, int err) {
  char namebuf[24];
  const char *name = strerrorname_np(err);
  if (name == NULL) {
    snprintf(namebuf, sizeof namebuf, "E%d", err);
    name = namebuf;
  }
  char strbuf[128];
  const char *desc = strerror_r(err, strbuf, sizeof strbuf);
  char msg[384];
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", call, desc, name);

  napi_value code, message, error, v;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, call, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  return error;
}

static napi_value throw_errno(napi_env env, const char *call, int err) {
  napi_throw(env, make_errno_error(env, call, err));
  return NULL;
}

static napi_value throw_type(napi_env env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static napi_value throw_type(napi_env env, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static napi_value throw_range(napi_env env, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

/* Turns a failed napi_* status into a JS exception (unless one is pending). */
static void throw_napi_failure(napi_env env, const char *what) {
  const napi_extended_error_info *info = NULL;
  char msg[256];
  napi_get_last_error_info(env, &info);
  snprintf(msg, sizeof msg, "%s: %s", what,
           info && info->error_message ? info->error_message : "Node-API call failed");
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_NAPI", msg);
}

#define NAPI_OK(call)                        \
  do {                                       \
    if ((call) != napi_ok) {                 \
      throw_napi_failure(env, #call);        \
      return NULL;                           \
    }                                        \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Argument helpers (each returns false with a JS exception pending)         */
/* ------------------------------------------------------------------------ */

typedef struct {
  size_t argc;
  napi_value argv[MAX_ARGS];
} args_t;

static bool get_args(napi_env env, napi_callback_info info, const char *fn,
                     size_t required, args_t *a) {
  a->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok) {
    throw_napi_failure(env, fn);
    return false;
  }
  if (a->argc < required) {
    throw_type(env, "%s: expected at least %zu argument(s), got %zu", fn, required, a->argc);
    return false;
  }
  return true; /* missing optional arguments are `undefined` */
}

static napi_valuetype type_of(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t;
}

static bool get_int(napi_env env, napi_value v, const char *fn, const char *name,
                    int64_t lo, int64_t hi, int64_t *out) {
  if (type_of(env, v) != napi_number) {
    throw_type(env, "%s: %s must be a number", fn, name);
    return false;
  }
  double d = 0;
  napi_get_value_double(env, v, &d);
  /* lo/hi are within +-2^53, so the comparisons are exact and the cast safe. */
  if (!(d >= (double)lo && d <= (double)hi) || (double)(int64_t)d != d) {
    throw_range(env, "%s: %s must be an integer in [%lld, %lld], got %g", fn, name,
                (long long)lo, (long long)hi, d);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

static bool get_fd(napi_env env, napi_value v, const char *fn, int *fd) {
  int64_t x;
  if (!get_int(env, v, fn, "fd", 0, INT_MAX, &x)) return false;
  *fd = (int)x;
  return true;
}

/* UTF-8 string into buf (NUL-terminated); *len excludes the NUL. */
static bool get_string(napi_env env, napi_value v, const char *fn, const char *name,
                       char *buf, size_t bufsz, size_t *len) {
  if (type_of(env, v) != napi_string) {
    throw_type(env, "%s: %s must be a string", fn, name);
    return false;
  }
  size_t need = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &need);
  if (need + 1 > bufsz) {
    throw_range(env, "%s: %s is too long (%zu bytes, max %zu)", fn, name, need, bufsz - 1);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, bufsz, len);
  return true;
}

static bool get_cstring(napi_env env, napi_value v, const char *fn, const char *name,
                        char *buf, size_t bufsz) {
  size_t len = 0;
  if (!get_string(env, v, fn, name, buf, bufsz, &len)) return false;
  if (strlen(buf) != len) {
    throw_type(env, "%s: %s must not contain NUL characters", fn, name);
    return false;
  }
  return true;
}

static size_t typedarray_elem_size(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8; /* float64, bigint64, biguint64 */
  }
}

/* Any ArrayBufferView (Buffer, Uint8Array, other typed arrays, DataView). */
static bool is_view(napi_env env, napi_value v) {
  bool ta = false, dv = false;
  napi_is_typedarray(env, v, &ta);
  if (!ta) napi_is_dataview(env, v, &dv);
  return ta || dv;
}

static bool get_bytes(napi_env env, napi_value v, const char *fn, const char *name,
                      void **data, size_t *len) {
  bool ta = false, dv = false;
  napi_is_typedarray(env, v, &ta);
  if (ta) {
    napi_typedarray_type type;
    size_t length = 0;
    if (napi_get_typedarray_info(env, v, &type, &length, data, NULL, NULL) != napi_ok) {
      throw_napi_failure(env, fn);
      return false;
    }
    *len = length * typedarray_elem_size(type);
    return true;
  }
  napi_is_dataview(env, v, &dv);
  if (dv) {
    if (napi_get_dataview_info(env, v, len, data, NULL, NULL) != napi_ok) {
      throw_napi_failure(env, fn);
      return false;
    }
    return true;
  }
  throw_type(env, "%s: %s must be a Uint8Array/Buffer", fn, name);
  return false;
}

static bool get_bool(napi_env env, napi_value v, const char *fn, const char *name, bool *out) {
  if (type_of(env, v) != napi_boolean) {
    throw_type(env, "%s: %s must be a boolean", fn, name);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

/* 'in' -> POLLIN, 'out' -> POLLOUT */
static bool get_events(napi_env env, napi_value v, const char *fn, short *events) {
  char s[8] = "";
  size_t len = 0;
  if (type_of(env, v) == napi_string) napi_get_value_string_utf8(env, v, s, sizeof s, &len);
  if (strcmp(s, "in") == 0) { *events = POLLIN; return true; }
  if (strcmp(s, "out") == 0) { *events = POLLOUT; return true; }
  throw_type(env, "%s: events must be 'in' or 'out'", fn);
  return false;
}

static napi_value make_int(napi_env env, int64_t x) {
  napi_value v = NULL;
  napi_create_int64(env, x, &v);
  return v;
}

static napi_value make_bool(napi_env env, bool b) {
  napi_value v = NULL;
  napi_get_boolean(env, b, &v);
  return v;
}

static napi_value make_null(napi_env env) {
  napi_value v = NULL;
  napi_get_null(env, &v);
  return v;
}

/* ------------------------------------------------------------------------ */
/* Per-environment state: pending pollAsync requests                         */
/* ------------------------------------------------------------------------ */

struct env_state;

typedef struct poll_req {
  uv_poll_t poll;
  uv_timer_t timer;
  struct env_state *st;
  napi_deferred deferred;
  napi_async_context actx;
  struct poll_req *prev, *next;
  int fd;
  int handles; /* uv handles not yet closed */
} poll_req;

typedef struct env_state {
  napi_env env;
  uv_loop_t *loop;
  poll_req *polls; /* pending (unsettled) requests */
  napi_async_cleanup_hook_handle hook;
  int open_handles; /* uv handles owned by this env not yet closed */
  bool torn_down;
} env_state;

static env_state *get_state(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return p;
}

static void req_unlink(env_state *st, poll_req *r) {
  if (r->prev) r->prev->next = r->next; else st->polls = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void teardown_done(env_state *st) {
  napi_remove_async_cleanup_hook(st->hook);
  free(st);
}

static void on_handle_closed(uv_handle_t *h) {
  poll_req *r = h->data;
  env_state *st = r->st;
  st->open_handles--;
  if (--r->handles == 0) free(r);
  if (st->torn_down && st->open_handles == 0) teardown_done(st);
}

static void req_close_handles(poll_req *r) {
  uv_poll_stop(&r->poll);
  uv_timer_stop(&r->timer);
  uv_close((uv_handle_t *)&r->poll, on_handle_closed);
  uv_close((uv_handle_t *)&r->timer, on_handle_closed);
}

/* Settles a pending request: ready (true/false) or err != 0 (reject).
 * in_js: called from inside a JS call (no callback scope needed). */
static void req_settle(poll_req *r, bool ready, int err, bool in_js) {
  env_state *st = r->st;
  napi_env env = st->env;
  napi_deferred deferred = r->deferred;
  napi_async_context actx = r->actx;
  req_unlink(st, r);
  req_close_handles(r); /* r is freed later, in the close callbacks */

  napi_handle_scope hs = NULL;
  napi_callback_scope cs = NULL;
  napi_open_handle_scope(env, &hs);
  if (!in_js) {
    /* Closing the outermost callback scope drains process.nextTick and the
     * microtask queue, so `await pollAsync()` continues promptly. */
    napi_value resource;
    napi_create_object(env, &resource);
    napi_open_callback_scope(env, resource, actx, &cs);
  }
  if (err != 0) {
    napi_reject_deferred(env, deferred, make_errno_error(env, "pollAsync", err));
  } else {
    napi_resolve_deferred(env, deferred, make_bool(env, ready));
  }
  if (cs) napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
  napi_async_destroy(env, actx);
}

/* poll(fd, 0): 1 ready, 0 not ready, -errno (EBADF for POLLNVAL). */
static int poll_now(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events, .revents = 0};
  int n;
  do n = poll(&p, 1, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) return 0;
  if (p.revents & POLLNVAL) return -EBADF;
  return 1; /* requested event, POLLHUP or POLLERR: the next call will not block */
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  poll_req *r = h->data;
  if (status < 0) {
    /* libuv reports POLLERR as UV_EBADF; a socket error is readiness (the
     * next call returns the error), a truly bad fd is not. */
    int now = poll_now(r->fd, POLLIN | POLLOUT);
    if (now < 0) req_settle(r, false, -now, false);
    else req_settle(r, true, 0, false);
    return;
  }
  req_settle(r, true, 0, false);
}

static void on_timer(uv_timer_t *h) {
  req_settle(h->data, false, 0, false);
}

/* Cancels every pending pollAsync on fd (before close()). */
static void cancel_polls_on_fd(napi_env env, int fd) {
  env_state *st = get_state(env);
  if (st == NULL) return;
  poll_req *r = st->polls;
  while (r) {
    poll_req *next = r->next;
    if (r->fd == fd) req_settle(r, false, ECANCELED, true);
    r = next;
  }
}

static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  env_state *st = arg;
  st->torn_down = true;
  /* Promises cannot be settled any more; just stop and close the handles. */
  while (st->polls) {
    poll_req *r = st->polls;
    req_unlink(st, r);
    req_close_handles(r);
  }
  if (st->open_handles == 0) teardown_done(st);
}

/* ------------------------------------------------------------------------ */
/* memfd + shared mappings                                                    */
/* ------------------------------------------------------------------------ */

/* Live mappings, process-wide. A record is removed (and unmapped) exactly once:
 * by munmap() or by the ArrayBuffer's finalizer, whichever comes first. The
 * finalizer is keyed by id, not by pointer, so a late finalizer of an already
 * unmapped buffer finds nothing, even if a new mapping reuses the address. */
typedef struct mapping {
  uint64_t id;
  void *addr;
  size_t len;
  struct mapping *next;
} mapping;

static pthread_mutex_t g_map_lock = PTHREAD_MUTEX_INITIALIZER;
static mapping *g_maps = NULL;
static uint64_t g_next_id = 1;
static int64_t g_live = 0;

/* Caller holds g_map_lock. Unlinks and returns the record, or NULL. */
static mapping *map_take(bool by_id, uint64_t id, void *addr, size_t len) {
  for (mapping **pp = &g_maps; *pp; pp = &(*pp)->next) {
    mapping *m = *pp;
    if (by_id ? m->id == id : (m->addr == addr && m->len == len)) {
      *pp = m->next;
      g_live--;
      return m;
    }
  }
  return NULL;
}

static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  pthread_mutex_lock(&g_map_lock);
  mapping *m = map_take(true, (uint64_t)(uintptr_t)hint, NULL, 0);
  pthread_mutex_unlock(&g_map_lock);
  if (m) {
    munmap(m->addr, m->len);
    free(m);
  }
}

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  args_t a;
  char name[250]; /* memfd names are limited to 249 bytes */
  int64_t size;
  if (!get_args(env, info, "memfdCreate", 2, &a)) return NULL;
  if (!get_cstring(env, a.argv[0], "memfdCreate", "name", name, sizeof name)) return NULL;
  if (!get_int(env, a.argv[1], "memfdCreate", "size", 0, MAX_SAFE_INT, &size)) return NULL;
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return throw_errno(env, "memfd_create", errno);
  if (ftruncate(fd, (off_t)size) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "ftruncate", e);
  }
  return make_int(env, fd);
}

static napi_value js_mmap_shared(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  int64_t size, offset = 0;
  if (!get_args(env, info, "mmapShared", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "mmapShared", &fd)) return NULL;
  if (!get_int(env, a.argv[1], "mmapShared", "size", 1, MAX_SAFE_INT, &size)) return NULL;
  if (type_of(env, a.argv[2]) != napi_undefined &&
      !get_int(env, a.argv[2], "mmapShared", "offset", 0, MAX_SAFE_INT, &offset))
    return NULL;

  void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
  if (p == MAP_FAILED) return throw_errno(env, "mmap", errno);
  mapping *m = calloc(1, sizeof *m);
  if (m == NULL) {
    munmap(p, (size_t)size);
    return throw_errno(env, "mmap", ENOMEM);
  }
  m->addr = p;
  m->len = (size_t)size;
  pthread_mutex_lock(&g_map_lock);
  m->id = g_next_id++;
  m->next = g_maps;
  g_maps = m;
  g_live++;
  pthread_mutex_unlock(&g_map_lock);
  uint64_t id = m->id;

  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)size, mapping_finalize,
                                       (void *)(uintptr_t)id, &ab) != napi_ok) {
    throw_napi_failure(env, "mmapShared: napi_create_external_arraybuffer");
    mapping_finalize(env, p, (void *)(uintptr_t)id); /* no-op if already run */
    return NULL;
  }
  return ab;
}

static napi_value js_munmap(napi_env env, napi_callback_info info) {
  args_t a;
  bool is_ab = false, detached = false;
  void *data = NULL;
  size_t len = 0;
  if (!get_args(env, info, "munmap", 1, &a)) return NULL;
  napi_is_arraybuffer(env, a.argv[0], &is_ab);
  if (!is_ab) return throw_type(env, "munmap: argument must be an ArrayBuffer from mmapShared");
  NAPI_OK(napi_is_detached_arraybuffer(env, a.argv[0], &detached));
  if (detached) return make_bool(env, false); /* already released */
  NAPI_OK(napi_get_arraybuffer_info(env, a.argv[0], &data, &len));

  pthread_mutex_lock(&g_map_lock);
  mapping *m = map_take(false, 0, data, len);
  pthread_mutex_unlock(&g_map_lock);
  if (m == NULL) return throw_errno(env, "munmap (not a live mapping from mmapShared)", EINVAL);

  /* Detach first, so JS can never touch unmapped memory. Detaching may run
   * the finalizer synchronously; it no longer finds the record. */
  if (napi_detach_arraybuffer(env, a.argv[0]) != napi_ok) {
    throw_napi_failure(env, "munmap: napi_detach_arraybuffer");
    pthread_mutex_lock(&g_map_lock);
    m->next = g_maps;
    g_maps = m;
    g_live++;
    pthread_mutex_unlock(&g_map_lock);
    return NULL;
  }
  int rc = munmap(m->addr, m->len);
  int e = errno;
  free(m);
  if (rc < 0) return throw_errno(env, "munmap", e);
  return make_bool(env, true);
}

static napi_value js_live_mappings(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_mutex_lock(&g_map_lock);
  int64_t n = g_live;
  pthread_mutex_unlock(&g_map_lock);
  return make_int(env, n);
}

/* ------------------------------------------------------------------------ */
/* eventfd                                                                    */
/* ------------------------------------------------------------------------ */

static napi_value js_eventfd_create(napi_env env, napi_callback_info info) {
  args_t a;
  int64_t initval;
  int flags = EFD_CLOEXEC;
  if (!get_args(env, info, "eventfdCreate", 1, &a)) return NULL;
  if (!get_int(env, a.argv[0], "eventfdCreate", "initval", 0, UINT32_MAX, &initval)) return NULL;
  if (type_of(env, a.argv[1]) != napi_undefined) {
    bool is_arr = false;
    uint32_t n = 0;
    napi_is_array(env, a.argv[1], &is_arr);
    if (!is_arr) return throw_type(env, "eventfdCreate: flags must be an array of strings");
    napi_get_array_length(env, a.argv[1], &n);
    for (uint32_t i = 0; i < n; i++) {
      napi_value el;
      char s[16];
      size_t len;
      NAPI_OK(napi_get_element(env, a.argv[1], i, &el));
      if (type_of(env, el) != napi_string || napi_get_value_string_utf8(env, el, s, sizeof s, &len) != napi_ok)
        return throw_type(env, "eventfdCreate: flags must be an array of strings");
      if (strcmp(s, "nonblock") == 0) flags |= EFD_NONBLOCK;
      else if (strcmp(s, "semaphore") == 0) flags |= EFD_SEMAPHORE;
      else return throw_type(env, "eventfdCreate: unknown flag '%s' (expected 'nonblock' or 'semaphore')", s);
    }
  }
  int fd = eventfd((unsigned int)initval, flags);
  if (fd < 0) return throw_errno(env, "eventfd", errno);
  return make_int(env, fd);
}

static napi_value js_eventfd_read(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  uint64_t v = 0;
  ssize_t n;
  if (!get_args(env, info, "eventfdRead", 1, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "eventfdRead", &fd)) return NULL;
  do n = read(fd, &v, sizeof v); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_null(env);
    return throw_errno(env, "eventfdRead (read)", errno);
  }
  if (n != (ssize_t)sizeof v) return throw_errno(env, "eventfdRead (short read)", EIO);
  napi_value r;
  NAPI_OK(napi_create_bigint_uint64(env, v, &r));
  return r;
}

static napi_value js_eventfd_write(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  uint64_t v = 0;
  ssize_t n;
  if (!get_args(env, info, "eventfdWrite", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "eventfdWrite", &fd)) return NULL;
  napi_valuetype t = type_of(env, a.argv[1]);
  if (t == napi_bigint) {
    bool lossless = false;
    napi_get_value_bigint_uint64(env, a.argv[1], &v, &lossless);
    if (!lossless) return throw_range(env, "eventfdWrite: value must fit in 64 unsigned bits");
  } else if (t == napi_number) {
    int64_t x;
    if (!get_int(env, a.argv[1], "eventfdWrite", "value", 0, MAX_SAFE_INT, &x)) return NULL;
    v = (uint64_t)x;
  } else {
    return throw_type(env, "eventfdWrite: value must be a bigint");
  }
  do n = write(fd, &v, sizeof v); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "eventfdWrite (write)", errno);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* close, poll                                                                */
/* ------------------------------------------------------------------------ */

static napi_value js_close(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  if (!get_args(env, info, "close", 1, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "close", &fd)) return NULL;
  cancel_polls_on_fd(env, fd);
  /* On Linux the fd is released even when close() fails with EINTR. */
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static napi_value js_poll_sync(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  short events;
  int64_t timeout;
  if (!get_args(env, info, "pollSync", 3, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "pollSync", &fd)) return NULL;
  if (!get_events(env, a.argv[1], "pollSync", &events)) return NULL;
  if (!get_int(env, a.argv[2], "pollSync", "timeoutMs", 0, INT_MAX, &timeout)) return NULL;
  int64_t deadline = now_ms() + timeout;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    int n = poll(&p, 1, (int)timeout);
    if (n > 0) {
      if (p.revents & POLLNVAL) return throw_errno(env, "poll", EBADF);
      return make_bool(env, true);
    }
    if (n == 0) return make_bool(env, false);
    if (errno != EINTR) return throw_errno(env, "poll", errno);
    timeout = deadline - now_ms();
    if (timeout < 0) timeout = 0;
  }
}

static napi_value js_poll_async(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  short events;
  int64_t timeout;
  if (!get_args(env, info, "pollAsync", 3, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "pollAsync", &fd)) return NULL;
  if (!get_events(env, a.argv[1], "pollAsync", &events)) return NULL;
  if (!get_int(env, a.argv[2], "pollAsync", "timeoutMs", 0, INT_MAX, &timeout)) return NULL;
  env_state *st = get_state(env);
  if (st == NULL) return throw_errno(env, "pollAsync (no environment state)", EINVAL);

  napi_value promise;
  napi_deferred deferred;
  NAPI_OK(napi_create_promise(env, &deferred, &promise));

  /* Fast path: already ready (or a bad fd, or a zero timeout). Also covers fds
   * epoll refuses (regular files), which poll() always reports ready. */
  int now = poll_now(fd, events);
  if (now != 0 || timeout == 0) {
    if (now < 0) napi_reject_deferred(env, deferred, make_errno_error(env, "pollAsync (poll)", -now));
    else napi_resolve_deferred(env, deferred, make_bool(env, now == 1));
    return promise;
  }
  for (poll_req *r = st->polls; r; r = r->next) {
    if (r->fd == fd) {
      napi_reject_deferred(env, deferred,
                           make_errno_error(env, "pollAsync (another wait is pending on this fd)", EBUSY));
      return promise;
    }
  }

  poll_req *r = calloc(1, sizeof *r);
  if (r == NULL) {
    napi_reject_deferred(env, deferred, make_errno_error(env, "pollAsync", ENOMEM));
    return promise;
  }
  r->st = st;
  r->fd = fd;
  r->deferred = deferred;

  int fl = fcntl(fd, F_GETFL);
  int rc = uv_poll_init(st->loop, &r->poll, fd);
  if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl); /* undo libuv's O_NONBLOCK */
  if (rc < 0) {
    free(r);
    napi_reject_deferred(env, deferred, make_errno_error(env, "pollAsync (uv_poll_init)", -rc));
    return promise;
  }
  r->poll.data = r;
  r->handles = 1;
  st->open_handles++;
  uv_timer_init(st->loop, &r->timer);
  r->timer.data = r;
  r->handles++;
  st->open_handles++;

  napi_value resource_name;
  napi_create_string_utf8(env, "vhostcheck.pollAsync", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_async_init(env, NULL, resource_name, &r->actx) != napi_ok) {
    throw_napi_failure(env, "pollAsync: napi_async_init");
    req_close_handles(r);
    return NULL;
  }
  r->next = st->polls;
  if (st->polls) st->polls->prev = r;
  st->polls = r;

  rc = uv_poll_start(&r->poll, events == POLLIN ? UV_READABLE : UV_WRITABLE, on_poll);
  if (rc < 0) {
    req_settle(r, false, -rc, true);
    return promise;
  }
  uv_update_time(st->loop); /* the timeout counts from now, not from loop start */
  uv_timer_start(&r->timer, on_timer, (uint64_t)timeout, 0);
  return promise;
}

/* ------------------------------------------------------------------------ */
/* UNIX sockets                                                               */
/* ------------------------------------------------------------------------ */

/* Pathname sockets, or abstract ones when the path starts with "\0". */
static bool get_sockaddr(napi_env env, napi_value v, const char *fn,
                         struct sockaddr_un *sa, socklen_t *salen) {
  char path[sizeof sa->sun_path + 2];
  size_t len = 0;
  if (type_of(env, v) != napi_string) {
    throw_type(env, "%s: path must be a string", fn);
    return false;
  }
  size_t need = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &need);
  if (need > sizeof sa->sun_path) {
    throw_errno(env, fn, ENAMETOOLONG);
    return false;
  }
  napi_get_value_string_utf8(env, v, path, sizeof path, &len);
  bool abstract = len > 0 && path[0] == '\0';
  if (len == 0) {
    throw_type(env, "%s: path must not be empty", fn);
    return false;
  }
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (abstract) {
    memcpy(sa->sun_path, path, len);
    *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
  } else {
    if (strlen(path) != len) {
      throw_type(env, "%s: path must not contain NUL characters", fn);
      return false;
    }
    if (len >= sizeof sa->sun_path) {
      throw_errno(env, fn, ENAMETOOLONG);
      return false;
    }
    memcpy(sa->sun_path, path, len + 1);
    *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
  }
  return true;
}

static napi_value js_unix_connect(napi_env env, napi_callback_info info) {
  args_t a;
  struct sockaddr_un sa;
  socklen_t salen;
  if (!get_args(env, info, "unixConnect", 1, &a)) return NULL;
  if (!get_sockaddr(env, a.argv[0], "unixConnect", &sa, &salen)) return NULL;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
    int e = errno;
    if (e == EINTR) {
      /* The connection proceeds; wait for it and collect its result. */
      struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
      int n;
      socklen_t el = sizeof e;
      do n = poll(&p, 1, -1); while (n < 0 && errno == EINTR);
      e = 0;
      if (n < 0) e = errno;
      else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) e = errno;
    }
    if (e != 0) {
      close(fd);
      return throw_errno(env, "connect", e);
    }
  }
  return make_int(env, fd);
}

static napi_value js_unix_listen(napi_env env, napi_callback_info info) {
  args_t a;
  struct sockaddr_un sa;
  socklen_t salen;
  int64_t backlog;
  if (!get_args(env, info, "unixListen", 2, &a)) return NULL;
  if (!get_sockaddr(env, a.argv[0], "unixListen", &sa, &salen)) return NULL;
  if (!get_int(env, a.argv[1], "unixListen", "backlog", 0, INT_MAX, &backlog)) return NULL;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  if (listen(fd, (int)backlog) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "listen", e);
  }
  return make_int(env, fd);
}

static napi_value js_unix_accept(napi_env env, napi_callback_info info) {
  args_t a;
  int fd, c;
  if (!get_args(env, info, "unixAccept", 1, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "unixAccept", &fd)) return NULL;
  do c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
  while (c < 0 && (errno == EINTR || errno == ECONNABORTED));
  if (c < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return make_null(env);
    return throw_errno(env, "accept4", errno);
  }
  return make_int(env, c);
}

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return throw_errno(env, "socketpair", errno);
  napi_value arr;
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok ||
      napi_set_element(env, arr, 0, make_int(env, sv[0])) != napi_ok ||
      napi_set_element(env, arr, 1, make_int(env, sv[1])) != napi_ok) {
    close(sv[0]);
    close(sv[1]);
    throw_napi_failure(env, "socketpair");
    return NULL;
  }
  return arr;
}

static napi_value js_sendmsg(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  void *data = NULL;
  size_t len = 0;
  int fds[MAX_SEND_FDS];
  uint32_t nfds = 0;
  if (!get_args(env, info, "sendmsg", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "sendmsg", &fd)) return NULL;
  if (!get_bytes(env, a.argv[1], "sendmsg", "data", &data, &len)) return NULL;
  if (type_of(env, a.argv[2]) != napi_undefined) {
    bool is_arr = false;
    napi_is_array(env, a.argv[2], &is_arr);
    if (!is_arr) return throw_type(env, "sendmsg: fds must be an array of numbers");
    napi_get_array_length(env, a.argv[2], &nfds);
    if (nfds > MAX_SEND_FDS)
      return throw_range(env, "sendmsg: at most %d fds per message, got %u", MAX_SEND_FDS, nfds);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value el;
      NAPI_OK(napi_get_element(env, a.argv[2], i, &el));
      if (!get_fd(env, el, "sendmsg", &fds[i])) return NULL;
    }
  }
  /* A zero-length write on a stream socket sends nothing: the fds would be
   * silently dropped. */
  if (nfds > 0 && len == 0) return throw_range(env, "sendmsg: fds need at least one byte of data");

  struct iovec iov = {.iov_base = data, .iov_len = len};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_SEND_FDS)];
  } ctl;
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (nfds > 0) {
    memset(&ctl, 0, sizeof ctl);
    m.msg_control = ctl.buf;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(fd, &m, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "sendmsg", errno);
  return make_int(env, n);
}

/* The results of a recvmsg other than the bytes go into `out`, an Int32Array
 * of length >= 2 + maxFds: out[0] = RECV_* bits, out[1] = fd count, out[2..] =
 * the fds. The TS wrapper builds the result object: creating it here through
 * Node-API (one napi_set_named_property per field) cost more than the syscall. */
#define RECV_TRUNC 1
#define RECV_CTRUNC 2
#define RECV_CLOSED 4

static bool get_recv_out(napi_env env, napi_value v, const char *fn, int64_t max_fds, int32_t **out) {
  bool is_ta = false;
  napi_typedarray_type ot;
  size_t olen = 0;
  void *odata = NULL;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta || napi_get_typedarray_info(env, v, &ot, &olen, &odata, NULL, NULL) != napi_ok ||
      ot != napi_int32_array || olen < 2 + (size_t)max_fds) {
    throw_type(env, "%s: out must be an Int32Array of length >= 2 + maxFds", fn);
    return false;
  }
  *out = odata;
  return true;
}

/* One recvmsg(MSG_CMSG_CLOEXEC) of at most len bytes into buf, results other
 * than the bytes into out. Returns the byte count, or -errno (-EAGAIN when a
 * non-blocking receive finds nothing). */
static ssize_t recv_into(int fd, void *buf, size_t len, int64_t max_fds, bool dontwait, int32_t *out) {
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_RECV_FDS)];
  } ctl;
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (max_fds > 0) {
    m.msg_control = ctl.buf;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
  }
  ssize_t n;
  do n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | (dontwait ? MSG_DONTWAIT : 0)); while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;

  int got[MAX_RECV_FDS];
  size_t ngot = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int x;
      memcpy(&x, CMSG_DATA(c) + i * sizeof(int), sizeof x);
      if (ngot < (size_t)max_fds) got[ngot++] = x;
      else close(x); /* cannot happen: the kernel honours msg_controllen */
    }
  }
  bool ctrunc = (m.msg_flags & MSG_CTRUNC) != 0;
  if (ctrunc) {
    /* More fds were sent than asked for: the kernel dropped the surplus; close
     * the ones that did arrive so nothing leaks, and report it. */
    for (size_t i = 0; i < ngot; i++) close(got[i]);
    ngot = 0;
  }
  out[0] = ((m.msg_flags & MSG_TRUNC) ? RECV_TRUNC : 0) | (ctrunc ? RECV_CTRUNC : 0) |
           (n == 0 && ngot == 0 && !ctrunc ? RECV_CLOSED : 0);
  out[1] = (int32_t)ngot;
  for (size_t i = 0; i < ngot; i++) out[2 + i] = got[i];
  return n;
}

/* recvmsg(fd, maxBytes, maxFds, dontwait, out: Int32Array) -> Buffer | null
 * (null on EAGAIN): the bytes in a new Buffer. */
static napi_value js_recvmsg(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  int64_t max_bytes, max_fds;
  bool dontwait = false;
  int32_t *out;
  static _Thread_local char scratch[65536];
  if (!get_args(env, info, "recvmsg", 5, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "recvmsg", &fd)) return NULL;
  if (!get_int(env, a.argv[1], "recvmsg", "maxBytes", 1, MAX_IO_LEN, &max_bytes)) return NULL;
  if (!get_int(env, a.argv[2], "recvmsg", "maxFds", 0, MAX_RECV_FDS, &max_fds)) return NULL;
  if (!get_bool(env, a.argv[3], "recvmsg", "dontwait", &dontwait)) return NULL;
  if (!get_recv_out(env, a.argv[4], "recvmsg", max_fds, &out)) return NULL;

  char *buf = scratch;
  if ((size_t)max_bytes > sizeof scratch) {
    buf = malloc((size_t)max_bytes);
    if (buf == NULL) return throw_errno(env, "recvmsg", ENOMEM);
  }
  ssize_t n = recv_into(fd, buf, (size_t)max_bytes, max_fds, dontwait, out);
  if (n < 0) {
    if (buf != scratch) free(buf);
    if (n == -EAGAIN) return make_null(env);
    return throw_errno(env, "recvmsg", (int)-n);
  }
  napi_value data;
  napi_status s = napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data);
  if (buf != scratch) free(buf);
  if (s != napi_ok) {
    for (int32_t i = 0; i < out[1]; i++) close(out[2 + i]);
    throw_napi_failure(env, "recvmsg");
    return NULL;
  }
  return data;
}

/* recvmsgInto(fd, target: ArrayBufferView, maxFds, dontwait, out: Int32Array)
 * -> number | null (null on EAGAIN): the bytes land in the caller's buffer, so
 * a reader that reuses one buffer allocates nothing per message (creating a
 * Buffer cost more than the syscall). */
static napi_value js_recvmsg_into(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  void *buf = NULL;
  size_t len = 0;
  int64_t max_fds;
  bool dontwait = false;
  int32_t *out;
  if (!get_args(env, info, "recvmsgInto", 5, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "recvmsgInto", &fd)) return NULL;
  if (!get_bytes(env, a.argv[1], "recvmsgInto", "target", &buf, &len)) return NULL;
  /* A zero-byte receive on a stream returns 0, which would read as the peer's hang-up. */
  if (len == 0) return throw_range(env, "recvmsgInto: target must have room for at least one byte");
  if (!get_int(env, a.argv[2], "recvmsgInto", "maxFds", 0, MAX_RECV_FDS, &max_fds)) return NULL;
  if (!get_bool(env, a.argv[3], "recvmsgInto", "dontwait", &dontwait)) return NULL;
  if (!get_recv_out(env, a.argv[4], "recvmsgInto", max_fds, &out)) return NULL;
  ssize_t n = recv_into(fd, buf, len, max_fds, dontwait, out);
  if (n == -EAGAIN) return make_null(env);
  if (n < 0) return throw_errno(env, "recvmsgInto", (int)-n);
  return make_int(env, n);
}

static napi_value js_set_nonblocking(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  bool on;
  if (!get_args(env, info, "setNonblocking", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "setNonblocking", &fd)) return NULL;
  if (!get_bool(env, a.argv[1], "setNonblocking", "on", &on)) return NULL;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return throw_errno(env, "fcntl(F_GETFL)", errno);
  int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0) return throw_errno(env, "fcntl(F_SETFL)", errno);
  return NULL;
}

/* setIoTimeout(fd, timeoutMs): SO_RCVTIMEO and SO_SNDTIMEO, so a blocking
 * recvmsg/sendmsg on a blocking socket gives up with EAGAIN after timeoutMs
 * (the kernel counts it in clock ticks: socket(7)). A blocking receive is one
 * syscall where poll + a non-blocking receive are two, and it arms no hrtimer.
 * 0 would mean "never time out" to the kernel, so it is refused. */
static napi_value js_set_io_timeout(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  int64_t ms;
  if (!get_args(env, info, "setIoTimeout", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "setIoTimeout", &fd)) return NULL;
  if (!get_int(env, a.argv[1], "setIoTimeout", "timeoutMs", 1, INT_MAX, &ms)) return NULL;
  struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)((ms % 1000) * 1000)};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) return throw_errno(env, "setsockopt(SO_RCVTIMEO)", errno);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) return throw_errno(env, "setsockopt(SO_SNDTIMEO)", errno);
  return NULL;
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  args_t a;
  int fd, how = SHUT_RDWR;
  if (!get_args(env, info, "shutdown", 1, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "shutdown", &fd)) return NULL;
  if (type_of(env, a.argv[1]) != napi_undefined) {
    char s[8];
    size_t l;
    if (type_of(env, a.argv[1]) != napi_string ||
        napi_get_value_string_utf8(env, a.argv[1], s, sizeof s, &l) != napi_ok)
      s[0] = 0;
    if (strcmp(s, "read") == 0) how = SHUT_RD;
    else if (strcmp(s, "write") == 0) how = SHUT_WR;
    else if (strcmp(s, "both") == 0) how = SHUT_RDWR;
    else return throw_type(env, "shutdown: how must be 'read', 'write' or 'both'");
  }
  if (shutdown(fd, how) < 0) return throw_errno(env, "shutdown", errno);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* ioctl, files                                                               */
/* ------------------------------------------------------------------------ */

static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  int64_t req;
  unsigned long arg = 0;
  if (!get_args(env, info, "ioctl", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "ioctl", &fd)) return NULL;
  if (!get_int(env, a.argv[1], "ioctl", "request", 0, UINT32_MAX, &req)) return NULL;
  napi_valuetype t = type_of(env, a.argv[2]);
  if (t == napi_number) {
    int64_t x;
    if (!get_int(env, a.argv[2], "ioctl", "arg", -MAX_SAFE_INT, MAX_SAFE_INT, &x)) return NULL;
    arg = (unsigned long)x;
  } else if (t != napi_undefined) {
    void *p = NULL;
    size_t len = 0;
    if (!is_view(env, a.argv[2])) return throw_type(env, "ioctl: arg must be a Buffer or a number");
    if (!get_bytes(env, a.argv[2], "ioctl", "arg", &p, &len)) return NULL;
    arg = (unsigned long)(uintptr_t)p;
  }
  int rc = ioctl(fd, (unsigned long)req, arg);
  if (rc < 0) return throw_errno(env, "ioctl", errno);
  return make_int(env, rc);
}

static napi_value js_open_file(napi_env env, napi_callback_info info) {
  args_t a;
  char *path;
  char mode[8];
  size_t ml;
  int flags;
  if (!get_args(env, info, "openFile", 2, &a)) return NULL;
  if (type_of(env, a.argv[1]) != napi_string ||
      napi_get_value_string_utf8(env, a.argv[1], mode, sizeof mode, &ml) != napi_ok)
    mode[0] = 0;
  if (strcmp(mode, "rdwr") == 0) flags = O_RDWR;
  else if (strcmp(mode, "rdonly") == 0) flags = O_RDONLY;
  else return throw_type(env, "openFile: flags must be 'rdwr' or 'rdonly'");
  path = malloc(PATH_MAX);
  if (path == NULL) return throw_errno(env, "open", ENOMEM);
  if (!get_cstring(env, a.argv[0], "openFile", "path", path, PATH_MAX)) {
    free(path);
    return NULL;
  }
  int fd;
  do fd = open(path, flags | O_CLOEXEC | O_NOCTTY); while (fd < 0 && errno == EINTR);
  int e = errno;
  free(path);
  if (fd < 0) return throw_errno(env, "open", e);
  return make_int(env, fd);
}

static napi_value js_read(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  int64_t len;
  if (!get_args(env, info, "read", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "read", &fd)) return NULL;
  if (!get_int(env, a.argv[1], "read", "len", 0, MAX_IO_LEN, &len)) return NULL;
  char *buf = malloc(len > 0 ? (size_t)len : 1);
  if (buf == NULL) return throw_errno(env, "read", ENOMEM);
  ssize_t n;
  do n = read(fd, buf, (size_t)len); while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    free(buf);
    if (e == EAGAIN || e == EWOULDBLOCK) return make_null(env);
    return throw_errno(env, "read", e);
  }
  napi_value out;
  napi_status s = napi_create_buffer_copy(env, (size_t)n, buf, NULL, &out);
  free(buf);
  NAPI_OK(s);
  return out;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  args_t a;
  int fd;
  void *data = NULL;
  size_t len = 0;
  if (!get_args(env, info, "write", 2, &a)) return NULL;
  if (!get_fd(env, a.argv[0], "write", &fd)) return NULL;
  if (!get_bytes(env, a.argv[1], "write", "data", &data, &len)) return NULL;
  ssize_t n;
  do n = write(fd, data, len); while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "write", errno);
  return make_int(env, n);
}

static napi_value js_fd_count(napi_env env, napi_callback_info info) {
  (void)info;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return throw_errno(env, "opendir(/proc/self/fd)", errno);
  int64_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] != '.') n++;
  }
  closedir(d);
  return make_int(env, n - 1); /* minus the directory's own fd */
}

/* ------------------------------------------------------------------------ */
/* Module                                                                     */
/* ------------------------------------------------------------------------ */

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  env_state *st = get_state(env);
  if (st == NULL) {
    st = calloc(1, sizeof *st);
    if (st == NULL) {
      napi_throw_error(env, "ENOMEM", "vhostcheck_native: out of memory");
      return NULL;
    }
    st->env = env;
    if (napi_get_uv_event_loop(env, &st->loop) != napi_ok ||
        napi_add_async_cleanup_hook(env, on_env_teardown, st, &st->hook) != napi_ok) {
      free(st);
      throw_napi_failure(env, "vhostcheck_native init");
      return NULL;
    }
    napi_set_instance_data(env, st, NULL, NULL); /* freed by on_env_teardown */
  }

#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}
  static const napi_property_descriptor props[] = {
      FN("memfdCreate", js_memfd_create),
      FN("mmapShared", js_mmap_shared),
      FN("munmap", js_munmap),
      FN("liveMappings", js_live_mappings),
      FN("eventfdCreate", js_eventfd_create),
      FN("eventfdRead", js_eventfd_read),
      FN("eventfdWrite", js_eventfd_write),
      FN("close", js_close),
      FN("pollSync", js_poll_sync),
      FN("pollAsync", js_poll_async),
      FN("unixConnect", js_unix_connect),
      FN("unixListen", js_unix_listen),
      FN("unixAccept", js_unix_accept),
      FN("socketpair", js_socketpair),
      FN("sendmsg", js_sendmsg),
      FN("recvmsg", js_recvmsg),
      FN("recvmsgInto", js_recvmsg_into),
      FN("setNonblocking", js_set_nonblocking),
      FN("setIoTimeout", js_set_io_timeout),
      FN("shutdown", js_shutdown),
      FN("ioctl", js_ioctl),
      FN("openFile", js_open_file),
      FN("read", js_read),
      FN("write", js_write),
      FN("fdCount", js_fd_count),
  };
#undef FN
  NAPI_OK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
