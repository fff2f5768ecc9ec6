/*
 * _klaw.c - the C half of the `klaw` Python package (python/klaw/): handles
 * of every channel kind, views and claims over the slots themselves, select,
 * descriptors, and the wire envelope's reader and writers, over libklaw.
 * python/klaw/__init__.py is the API users see (klaw.Mpmc.open_rx(...), the
 * exceptions, asyncio); this module is what it stands on.
 *
 * Memory safety. A View or Claim holds a reference to its handle object,
 * and a handle's C handle is freed only when the object is (tp_dealloc):
 * so the channel's region stays mapped while anything can still point into
 * it. A view's memoryview is released when the view is (the `with` block's
 * end): using it afterwards raises ValueError. A slice taken from it keeps
 * reading the slot after the release - the bytes of a later frame maybe,
 * never unmapped memory - and the View refuses new buffers once released.
 *
 * Blocking calls wait in slices of SLICE_MS with the GIL released and call
 * PyErr_CheckSignals() between slices, so Ctrl-C (KeyboardInterrupt) and
 * other threads go on. A handle may be closed from one thread while another
 * waits in it: close() only closes (the waiter returns Closed); the free is
 * tp_dealloc's, which cannot run while a method holds the object.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <klaw/klaw.h>

#define SLICE_MS 100

enum { K_MPMC = 1, K_BCAST, K_WATCH, K_ONESHOT };

/* ---- errors --------------------------------------------------------------------------- */

static PyObject *Error, *Closed, *Timeout, *Lagged, *Corrupt, *Full, *Empty, *TooBig, *NotFound, *Exists,
    *Invalid, *SysError, *DecodeError, *AlreadySent, *PermissionDenied, *VersionMismatch;

/* Raises the exception for st (with .status, and .missed for Lagged).
 * Returns NULL. */
static PyObject *raise_status(klaw_status st, uint64_t missed)
{
    PyObject *type = Error;
    switch (st) {
    case KLAW_CLOSED: type = Closed; break;
    case KLAW_TIMEOUT: type = Timeout; break;
    case KLAW_LAGGED: type = Lagged; break;
    case KLAW_CORRUPT: type = Corrupt; break;
    case KLAW_FULL: type = Full; break;
    case KLAW_EMPTY: type = Empty; break;
    case KLAW_TOOBIG: type = TooBig; break;
    case KLAW_NOENT: type = NotFound; break;
    case KLAW_EXIST: type = Exists; break;
    case KLAW_INVAL: type = Invalid; break;
    case KLAW_SYS: type = SysError; break;
    case KLAW_ALREADY_SENT: type = AlreadySent; break;
    case KLAW_PERM: type = PermissionDenied; break;
    case KLAW_VERSION: type = VersionMismatch; break;
    case KLAW_NOMEM: return PyErr_NoMemory();
    case KLAW_DECODE:
    case KLAW_VALIDATE: type = DecodeError; break;
    default: break;
    }
    PyObject *exc = st == KLAW_LAGGED ? PyObject_CallFunction(type, "sK", klaw_strerror(st), (unsigned long long)missed)
                                      : PyObject_CallFunction(type, "s", klaw_strerror(st));
    if (!exc)
        return NULL;
    PyObject *code = PyLong_FromLong((long)st);
    if (code) {
        PyObject_SetAttrString(exc, "status", code);
        Py_DECREF(code);
    }
    if (st == KLAW_LAGGED) {
        PyObject *m = PyLong_FromUnsignedLongLong((unsigned long long)missed);
        if (m) {
            PyObject_SetAttrString(exc, "missed", m);
            Py_DECREF(m);
        }
    }
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

/* ---- deadlines and waiting ---------------------------------------------------------------- */

/* timeout: None (wait as long as it takes) or seconds >= 0. Returns 0, or
 * -1 with an exception. *has: 0 for None. */
static int parse_timeout(PyObject *timeout, int *has, struct timespec *end)
{
    *has = 0;
    if (!timeout || timeout == Py_None)
        return 0;
    double s = PyFloat_AsDouble(timeout);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (s < 0 || s != s) {
        PyErr_SetString(PyExc_ValueError, "timeout must be None or >= 0 seconds");
        return -1;
    }
    if (s > 1e9)
        return 0; /* forever, in practice */
    clock_gettime(CLOCK_MONOTONIC, end);
    double whole = (double)(long long)s;
    end->tv_sec += (time_t)whole;
    end->tv_nsec += (long)((s - whole) * 1e9);
    if (end->tv_nsec >= 1000000000L) {
        end->tv_sec++;
        end->tv_nsec -= 1000000000L;
    }
    *has = 1;
    return 0;
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

typedef klaw_status (*wait_fn)(void *ctx, const struct timespec *deadline);

/* Runs fn in slices (GIL released) until it says anything but TIMEOUT, the
 * deadline passes (KLAW_TIMEOUT), or a signal handler raised (returns -1
 * with the exception set). */
static int wait_loop(wait_fn fn, void *ctx, PyObject *timeout, klaw_status *out)
{
    int has;
    struct timespec end;
    if (parse_timeout(timeout, &has, &end) < 0)
        return -1;
    for (;;) {
        struct timespec slice = klaw_deadline_in_ms(SLICE_MS);
        if (has && before(&end, &slice))
            slice = end;
        klaw_status st;
        Py_BEGIN_ALLOW_THREADS
        st = fn(ctx, &slice);
        Py_END_ALLOW_THREADS
        if (st != KLAW_TIMEOUT) {
            *out = st;
            return 0;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (has && !before(&now, &end)) {
            *out = KLAW_TIMEOUT;
            return 0;
        }
        if (PyErr_CheckSignals() < 0)
            return -1;
    }
}

/* ---- handles ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    int kind;
    int tx;            /* 1: a sender; 0: a receiver                   */
    void *h;           /* klaw_mpmc_tx *, klaw_bcast_rx *, ...          */
    int closed;
    uint32_t max_frame;
    PyObject *name;    /* str or None                                  */
    int busy;          /* a call runs with the GIL released (see enter_call) */
} Handle;

static PyTypeObject SenderType, ReceiverType, ViewType, ClaimType;

static void handle_close_c(Handle *self)
{
    if (self->closed || !self->h)
        return;
    self->closed = 1;
    switch (self->kind * 2 + self->tx) {
    case K_MPMC * 2 + 1: klaw_mpmc_tx_close(self->h); break;
    case K_MPMC * 2: klaw_mpmc_rx_close(self->h); break;
    case K_BCAST * 2 + 1: klaw_bcast_tx_close(self->h); break;
    case K_BCAST * 2: klaw_bcast_rx_close(self->h); break;
    case K_WATCH * 2 + 1: klaw_watch_tx_close(self->h); break;
    case K_WATCH * 2: klaw_watch_rx_close(self->h); break;
    case K_ONESHOT * 2 + 1: klaw_oneshot_tx_close(self->h); break;
    case K_ONESHOT * 2: klaw_oneshot_rx_close(self->h); break;
    }
}

/* Frees a C handle of kind/side (NULL: nothing). */
static void free_c(int kind, int tx, void *h)
{
    if (!h)
        return;
    switch (kind * 2 + tx) {
    case K_MPMC * 2 + 1: klaw_mpmc_tx_free(h); break;
    case K_MPMC * 2: klaw_mpmc_rx_free(h); break;
    case K_BCAST * 2 + 1: klaw_bcast_tx_free(h); break;
    case K_BCAST * 2: klaw_bcast_rx_free(h); break;
    case K_WATCH * 2 + 1: klaw_watch_tx_free(h); break;
    case K_WATCH * 2: klaw_watch_rx_free(h); break;
    case K_ONESHOT * 2 + 1: klaw_oneshot_tx_free(h); break;
    case K_ONESHOT * 2: klaw_oneshot_rx_free(h); break;
    }
}

static void handle_dealloc(Handle *self)
{
    free_c(self->kind, self->tx, self->h);
    self->h = NULL;
    Py_XDECREF(self->name);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A handle object owning h (freed here if the object cannot be made). */
static PyObject *new_handle(int kind, int tx, void *h, uint32_t max_frame, const char *name)
{
    Handle *o = PyObject_New(Handle, tx ? &SenderType : &ReceiverType);
    if (!o) {
        free_c(kind, tx, h);
        return NULL;
    }
    o->kind = kind;
    o->tx = tx;
    o->h = h;
    o->closed = 0;
    o->busy = 0;
    o->max_frame = max_frame;
    if (name)
        o->name = PyUnicode_FromString(name);
    else {
        o->name = Py_None;
        Py_INCREF(Py_None);
    }
    if (!o->name) {
        Py_DECREF(o);
        return NULL;
    }
    return (PyObject *)o;
}

/* A broadcast or watch receiver keeps per-handle state that one thread at
 * a time may change (its cursor, the version it saw): a second thread's
 * call while one waits in it (the GIL released) gets RuntimeError rather
 * than racing it. mpmc and oneshot handles and senders may be shared.
 * Checked and set with the GIL held. */
static int enter_call(Handle *self)
{
    if (self->tx || (self->kind != K_BCAST && self->kind != K_WATCH))
        return 0;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this receiver is in use by another thread (a broadcast or watch receiver is one "
                        "thread's at a time: give each thread its own)");
        return -1;
    }
    self->busy = 1;
    return 0;
}

static void leave_call(Handle *self)
{
    if (!self->tx && (self->kind == K_BCAST || self->kind == K_WATCH))
        self->busy = 0;
}

/* A handle that is open, else an exception (NULL). */
static int check_open(Handle *self)
{
    if (self->closed || !self->h) {
        raise_status(KLAW_CLOSED, 0);
        return -1;
    }
    return 0;
}

static PyObject *handle_close(Handle *self, PyObject *unused)
{
    (void)unused;
    handle_close_c(self);
    Py_RETURN_NONE;
}

static PyObject *handle_enter(Handle *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *handle_exit(Handle *self, PyObject *args)
{
    (void)args;
    handle_close_c(self);
    Py_RETURN_FALSE;
}

static PyObject *handle_get_closed(Handle *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->closed);
}

static PyObject *handle_get_kind(Handle *self, void *unused)
{
    (void)unused;
    static const char *const names[] = {"", "mpmc", "broadcast", "watch", "oneshot"};
    return PyUnicode_FromString(names[self->kind]);
}

static PyObject *handle_get_name(Handle *self, void *unused)
{
    (void)unused;
    Py_INCREF(self->name);
    return self->name;
}

static PyObject *handle_get_max_frame(Handle *self, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLong(self->max_frame);
}

/* ---- descriptors ---------------------------------------------------------------------------- */

static PyObject *handle_fileno(Handle *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    int fd = -1;
    switch (self->kind * 2 + self->tx) {
    case K_MPMC * 2 + 1: fd = klaw_mpmc_tx_fd(self->h); break;
    case K_MPMC * 2: fd = klaw_mpmc_rx_fd(self->h); break;
    case K_BCAST * 2 + 1: fd = klaw_bcast_tx_fd(self->h); break;
    case K_BCAST * 2: fd = klaw_bcast_rx_fd(self->h); break;
    case K_WATCH * 2: fd = klaw_watch_rx_fd(self->h); break;
    case K_ONESHOT * 2: fd = klaw_oneshot_rx_fd(self->h); break;
    default:
        PyErr_SetString(PyExc_TypeError, "this handle has no descriptor (it never waits)");
        return NULL;
    }
    if (fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyLong_FromLong(fd);
}

/* arm() -> the seconds to wait at most before arming again. */
static PyObject *handle_arm(Handle *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    int ms = 1000;
    klaw_status st;
    switch (self->kind * 2 + self->tx) {
    case K_MPMC * 2 + 1: st = klaw_mpmc_tx_arm(self->h, &ms); break;
    case K_MPMC * 2: st = klaw_mpmc_rx_arm(self->h, &ms); break;
    case K_BCAST * 2 + 1: st = klaw_bcast_tx_arm(self->h, &ms); break;
    case K_BCAST * 2: st = klaw_bcast_rx_arm(self->h, &ms); break;
    case K_WATCH * 2: st = klaw_watch_rx_arm(self->h, &ms); break;
    case K_ONESHOT * 2: st = klaw_oneshot_rx_arm(self->h, &ms); break;
    default:
        PyErr_SetString(PyExc_TypeError, "this handle has no descriptor (it never waits)");
        return NULL;
    }
    if (st != KLAW_OK)
        return raise_status(st, 0);
    return PyFloat_FromDouble(ms / 1000.0);
}

/* ---- stats ---------------------------------------------------------------------------------- */

#define SET_U(d, s, f) set_item(d, #f, PyLong_FromUnsignedLongLong((unsigned long long)(s).f))
#define SET_B(d, s, f) set_item(d, #f, PyBool_FromLong((s).f))

static int set_item(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    int r = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return r;
}

static PyObject *handle_stats(Handle *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    klaw_status st = KLAW_OK;
    int bad = 0;
    if (self->kind == K_MPMC) {
        klaw_mpmc_stats s;
        st = self->tx ? klaw_mpmc_tx_stats(self->h, &s) : klaw_mpmc_rx_stats(self->h, &s);
        if (st == KLAW_OK)
            bad = SET_U(d, s, senders) | SET_U(d, s, receivers) | SET_U(d, s, capacity) | SET_U(d, s, max_frame) |
                  SET_U(d, s, depth) | SET_U(d, s, high_watermark) | SET_U(d, s, total_sent) |
                  SET_U(d, s, total_received) | SET_U(d, s, aborted_claims) | SET_U(d, s, redelivered) |
                  SET_U(d, s, reaped_handles) | SET_B(d, s, senders_closed) | SET_B(d, s, receivers_closed);
    } else if (self->kind == K_BCAST) {
        klaw_bcast_stats s;
        st = self->tx ? klaw_bcast_tx_stats(self->h, &s) : klaw_bcast_rx_stats(self->h, &s);
        if (st == KLAW_OK)
            bad = SET_U(d, s, writers) | SET_U(d, s, readers) | SET_U(d, s, capacity) | SET_U(d, s, max_frame) |
                  set_item(d, "policy", PyUnicode_FromString(s.policy == KLAW_POLICY_BLOCK ? "block" : "overwrite")) |
                  SET_U(d, s, total_sent) | SET_U(d, s, total_received) | SET_U(d, s, lagged) |
                  SET_U(d, s, aborted_claims) | SET_U(d, s, evicted) | SET_U(d, s, depth) |
                  SET_U(d, s, high_watermark) | SET_B(d, s, writers_closed);
    } else if (self->kind == K_WATCH) {
        klaw_watch_stats s;
        st = self->tx ? klaw_watch_tx_stats(self->h, &s) : klaw_watch_rx_stats(self->h, &s);
        if (st == KLAW_OK)
            bad = SET_U(d, s, senders) | SET_U(d, s, receivers) | SET_U(d, s, max_frame) | SET_U(d, s, slots) |
                  SET_U(d, s, version) | SET_U(d, s, value_len) | SET_B(d, s, shared) | SET_U(d, s, lagged_borrows) |
                  SET_U(d, s, read_retries) | SET_U(d, s, reaped_handles) | SET_B(d, s, senders_closed);
    } else {
        klaw_oneshot_stats s;
        st = self->tx ? klaw_oneshot_tx_stats(self->h, &s) : klaw_oneshot_rx_stats(self->h, &s);
        if (st == KLAW_OK)
            bad = SET_U(d, s, max_frame) | SET_U(d, s, value_len) | SET_B(d, s, sender_held) |
                  SET_B(d, s, receiver_held) | SET_B(d, s, sent) | SET_B(d, s, received) |
                  SET_B(d, s, sender_closed) | SET_B(d, s, receiver_closed);
    }
    if (st != KLAW_OK) {
        Py_DECREF(d);
        return raise_status(st, 0);
    }
    if (bad) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

/* ---- views ------------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    Handle *owner;
    klaw_frame f;
    int held;      /* the slot is ours until released                 */
    int writable;  /* a Claim                                         */
    size_t cap;    /* a Claim: the bytes claimed                      */
    Py_ssize_t length; /* a Claim: what commit writes (default cap)   */
    PyObject *mv;  /* the memoryview __enter__ gave                   */
} View;

static int view_getbuffer(View *self, Py_buffer *b, int flags)
{
    if (!self->held) {
        PyErr_SetString(PyExc_BufferError, "the frame was released");
        return -1;
    }
    size_t len = self->writable ? self->cap : self->f.len;
    return PyBuffer_FillInfo(b, (PyObject *)self, self->f.data, (Py_ssize_t)len, !self->writable, flags);
}

static PyBufferProcs view_as_buffer = {(getbufferproc)view_getbuffer, NULL};

static PyObject *new_view(Handle *owner, const klaw_frame *f, int writable, size_t cap)
{
    View *v = PyObject_New(View, writable ? &ClaimType : &ViewType);
    if (!v)
        return NULL;
    Py_INCREF(owner);
    v->owner = owner;
    v->f = *f;
    v->held = 1;
    v->writable = writable;
    v->cap = cap;
    v->length = (Py_ssize_t)cap;
    v->mv = NULL;
    return (PyObject *)v;
}

static PyObject *str_release; /* "release", interned at import */

/* Lets the memoryview go (its users get ValueError from now on). */
static void drop_mv(View *self)
{
    if (!self->mv)
        return;
    PyObject *r = PyObject_CallMethodNoArgs(self->mv, str_release);
    if (!r)
        PyErr_Clear(); /* slices of it outlive it: they read the slot still */
    Py_XDECREF(r);
    Py_CLEAR(self->mv);
}

/* Gives the slot back (view: release; claim: commit length, or abort).
 * Returns the status (KLAW_OK or what release/commit said). */
static klaw_status view_finish(View *self, int abort)
{
    if (!self->held)
        return KLAW_OK;
    drop_mv(self);
    self->held = 0;
    Handle *o = self->owner;
    if (o->closed || !o->h)
        return KLAW_CLOSED;
    if (self->writable) {
        if (o->kind == K_MPMC)
            return abort ? klaw_mpmc_abort(o->h, &self->f) : klaw_mpmc_commit(o->h, &self->f, (size_t)self->length);
        return abort ? klaw_bcast_abort(o->h, &self->f) : klaw_bcast_commit(o->h, &self->f, (size_t)self->length);
    }
    switch (o->kind) {
    case K_MPMC: return klaw_mpmc_release(o->h, &self->f);
    case K_BCAST: return klaw_bcast_release(o->h, &self->f);
    case K_WATCH: return klaw_watch_release(o->h, &self->f);
    default: return klaw_oneshot_release(o->h, &self->f);
    }
}

static void view_dealloc(View *self)
{
    if (self->held) {
        klaw_status st = view_finish(self, self->writable); /* an unfinished claim is aborted */
        (void)st;
    }
    Py_XDECREF(self->mv);
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *view_enter(View *self, PyObject *unused)
{
    (void)unused;
    if (!self->held)
        return raise_status(KLAW_CLOSED, 0);
    if (!self->mv) {
        self->mv = PyMemoryView_FromObject((PyObject *)self);
        if (!self->mv)
            return NULL;
    }
    Py_INCREF(self->mv);
    return self->mv;
}

/* Release (a view) or commit / abort on an exception (a claim). A
 * broadcast view the writer lapped while it was held raises Lagged (its
 * bytes may have been torn); so does a shared watch value rewritten
 * while borrowed. */
static PyObject *view_exit(View *self, PyObject *args)
{
    PyObject *et = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : Py_None;
    klaw_status st = view_finish(self, et != Py_None);
    if (et != Py_None || st == KLAW_OK || st == KLAW_NO_RECEIVERS)
        Py_RETURN_FALSE;
    return raise_status(st, 1);
}

static PyObject *view_release(View *self, PyObject *unused)
{
    (void)unused;
    klaw_status st = view_finish(self, 0);
    if (st == KLAW_OK || st == KLAW_NO_RECEIVERS)
        Py_RETURN_NONE;
    return raise_status(st, 1);
}

static PyObject *view_abort(View *self, PyObject *unused)
{
    (void)unused;
    klaw_status st = view_finish(self, 1);
    if (st == KLAW_OK)
        Py_RETURN_NONE;
    return raise_status(st, 0);
}

static PyObject *view_get_seq(View *self, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong((unsigned long long)self->f.seq);
}

static PyObject *view_get_held(View *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->held);
}

static PyObject *view_get_length(View *self, void *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(self->writable ? self->length : (Py_ssize_t)self->f.len);
}

static int view_set_length(View *self, PyObject *v, void *unused)
{
    (void)unused;
    if (!self->writable) {
        PyErr_SetString(PyExc_AttributeError, "a view's length is the frame's");
        return -1;
    }
    Py_ssize_t n = v ? PyLong_AsSsize_t(v) : -1;
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 0 || (size_t)n > self->cap) {
        PyErr_SetString(PyExc_ValueError, "length must be 0..the bytes claimed");
        return -1;
    }
    self->length = n;
    return 0;
}

static Py_ssize_t view_len(View *self) { return self->writable ? (Py_ssize_t)self->cap : (Py_ssize_t)self->f.len; }

static PyObject *view_bytes(View *self, PyObject *unused)
{
    (void)unused;
    if (!self->held)
        return raise_status(KLAW_CLOSED, 0);
    return PyBytes_FromStringAndSize((const char *)self->f.data, view_len(self));
}

static PyMethodDef view_methods[] = {
    {"__enter__", (PyCFunction)view_enter, METH_NOARGS, "The frame as a memoryview (read-only for a view)."},
    {"__exit__", (PyCFunction)view_exit, METH_VARARGS, "Release (view) or commit / abort on an exception (claim)."},
    {"release", (PyCFunction)view_release, METH_NOARGS, "Gives the slot back (a claim: commits `length` bytes)."},
    {"commit", (PyCFunction)view_release, METH_NOARGS, "A claim: commits `length` bytes."},
    {"abort", (PyCFunction)view_abort, METH_NOARGS, "A claim: gives it up; a view: releases it."},
    {"tobytes", (PyCFunction)view_bytes, METH_NOARGS, "A copy of the bytes."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef view_getset[] = {
    {"seq", (getter)view_get_seq, NULL, "The frame's sequence number (watch: the version).", NULL},
    {"held", (getter)view_get_held, NULL, "True until released.", NULL},
    {"length", (getter)view_get_length, (setter)view_set_length, "Bytes (a claim: what commit writes).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods view_as_seq = {.sq_length = (lenfunc)view_len};

/* ---- receiving ---------------------------------------------------------------------------------- */

typedef struct {
    Handle *self;
    klaw_frame f;
    uint64_t lagged;
    size_t n, got;
    klaw_frame *frames;
} rx_ctx;

static klaw_status rx_view_once(void *p, const struct timespec *d)
{
    rx_ctx *c = p;
    Handle *s = c->self;
    switch (s->kind) {
    case K_MPMC: return klaw_mpmc_view(s->h, d, &c->f);
    case K_BCAST: return klaw_bcast_view(s->h, d, &c->f, &c->lagged);
    case K_ONESHOT: return klaw_oneshot_view(s->h, d, &c->f);
    default: { /* watch: wait for a newer version, then borrow it */
        klaw_status st = klaw_watch_changed(s->h, d);
        if (st != KLAW_OK)
            return st;
        return klaw_watch_borrow_and_update(s->h, &c->f);
    }
    }
}

static klaw_status rx_try_view_once(Handle *s, rx_ctx *c)
{
    switch (s->kind) {
    case K_MPMC: return klaw_mpmc_try_view(s->h, &c->f);
    case K_BCAST: return klaw_bcast_try_view(s->h, &c->f, &c->lagged);
    case K_ONESHOT: return klaw_oneshot_try_view(s->h, &c->f);
    default: {
        int changed = 0;
        klaw_status st = klaw_watch_has_changed(s->h, &changed);
        if (st != KLAW_OK)
            return st;
        if (!changed)
            return KLAW_EMPTY;
        return klaw_watch_borrow_and_update(s->h, &c->f);
    }
    }
}

/* Takes one frame (waiting when block). Returns 0 with c->f held, or -1
 * with an exception. */
static int take(Handle *self, rx_ctx *c, int block, PyObject *timeout)
{
    if (check_open(self) < 0 || enter_call(self) < 0)
        return -1;
    memset(c, 0, sizeof *c);
    c->self = self;
    /* what is there now first: no deadline, no GIL hand-off (measured:
     * a send + recv pair 260-290 ns through the wait loop, 130 ns so) */
    klaw_status st = rx_try_view_once(self, c);
    if (block && st == KLAW_EMPTY) {
        int r = wait_loop(rx_view_once, c, timeout, &st);
        leave_call(self);
        if (r < 0)
            return -1;
    } else {
        leave_call(self);
    }
    if (st != KLAW_OK) {
        raise_status(st, c->lagged);
        return -1;
    }
    return 0;
}

static klaw_status release_frame(Handle *self, klaw_frame *f)
{
    switch (self->kind) {
    case K_MPMC: return klaw_mpmc_release(self->h, f);
    case K_BCAST: return klaw_bcast_release(self->h, f);
    case K_WATCH: return klaw_watch_release(self->h, f);
    default: return klaw_oneshot_release(self->h, f);
    }
}

/* A copy of the frame, released. A broadcast frame overwritten while it
 * was copied raises Lagged (missed 1): the copy may be torn. */
static PyObject *copy_release(Handle *self, rx_ctx *c)
{
    PyObject *b = PyBytes_FromStringAndSize((const char *)c->f.data, (Py_ssize_t)c->f.len);
    klaw_status st = release_frame(self, &c->f);
    if (!b)
        return NULL;
    if (st != KLAW_OK) {
        Py_DECREF(b);
        return raise_status(st, 1);
    }
    return b;
}

static char *kw_timeout[] = {"timeout", NULL};

static PyObject *rx_recv(Handle *self, PyObject *args, PyObject *kw)
{
    PyObject *timeout = Py_None;
    if ((kw || PyTuple_GET_SIZE(args)) && !PyArg_ParseTupleAndKeywords(args, kw, "|O", kw_timeout, &timeout))
        return NULL;
    rx_ctx c;
    if (take(self, &c, 1, timeout) < 0)
        return NULL;
    return copy_release(self, &c);
}

static PyObject *rx_try_recv(Handle *self, PyObject *unused)
{
    (void)unused;
    rx_ctx c;
    if (take(self, &c, 0, NULL) < 0)
        return NULL;
    return copy_release(self, &c);
}

static PyObject *rx_view(Handle *self, PyObject *args, PyObject *kw)
{
    PyObject *timeout = Py_None;
    if ((kw || PyTuple_GET_SIZE(args)) && !PyArg_ParseTupleAndKeywords(args, kw, "|O", kw_timeout, &timeout))
        return NULL;
    rx_ctx c;
    if (take(self, &c, 1, timeout) < 0)
        return NULL;
    PyObject *v = new_view(self, &c.f, 0, 0);
    if (!v)
        release_frame(self, &c.f);
    return v;
}

static PyObject *rx_try_view(Handle *self, PyObject *unused)
{
    (void)unused;
    rx_ctx c;
    if (take(self, &c, 0, NULL) < 0)
        return NULL;
    PyObject *v = new_view(self, &c.f, 0, 0);
    if (!v)
        release_frame(self, &c.f);
    return v;
}

/* recv_batch(max, timeout=None): a list of 1..max frames (copies), the
 * blocking form waiting for the first. mpmc and broadcast. */
static klaw_status rx_batch_once(void *p, const struct timespec *d)
{
    rx_ctx *c = p;
    if (c->self->kind == K_MPMC)
        return klaw_mpmc_view_batch(c->self->h, c->frames, c->n, &c->got, d);
    return klaw_bcast_view_batch(c->self->h, c->frames, c->n, &c->got, &c->lagged, d);
}

static PyObject *rx_recv_batch(Handle *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"max", "timeout", NULL};
    Py_ssize_t max = 64;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|nO", kws, &max, &timeout))
        return NULL;
    if (check_open(self) < 0)
        return NULL;
    if (self->kind != K_MPMC && self->kind != K_BCAST) {
        PyErr_SetString(PyExc_TypeError, "recv_batch: mpmc and broadcast receivers");
        return NULL;
    }
    if (max < 1 || max > 4096) {
        PyErr_SetString(PyExc_ValueError, "max: 1..4096");
        return NULL;
    }
    klaw_frame *frames = PyMem_Calloc((size_t)max, sizeof *frames);
    if (!frames)
        return PyErr_NoMemory();
    rx_ctx c;
    memset(&c, 0, sizeof c);
    c.self = self;
    c.frames = frames;
    c.n = (size_t)max;
    klaw_status st;
    PyObject *out = NULL;
    if (enter_call(self) < 0)
        goto done;
    int r = wait_loop(rx_batch_once, &c, timeout, &st);
    leave_call(self);
    if (r < 0)
        goto done;
    if (st != KLAW_OK) {
        raise_status(st, c.lagged);
        goto done;
    }
    out = PyList_New((Py_ssize_t)c.got);
    for (size_t i = 0; out && i < c.got; i++) {
        PyObject *b = PyBytes_FromStringAndSize((const char *)frames[i].data, (Py_ssize_t)frames[i].len);
        if (!b) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, b);
    }
    st = self->kind == K_MPMC ? klaw_mpmc_release_batch(self->h, frames, c.got)
                              : klaw_bcast_release_batch(self->h, frames, c.got);
    if (out && st != KLAW_OK) {
        Py_CLEAR(out); /* some copy may be torn: say so rather than hand it out */
        raise_status(st, 1);
    }
done:
    PyMem_Free(frames);
    return out;
}

/* watch: the current value (bytes) without waiting, marking it seen. */
static PyObject *rx_get(Handle *self, PyObject *unused)
{
    (void)unused;
    if (check_open(self) < 0)
        return NULL;
    if (self->kind != K_WATCH) {
        PyErr_SetString(PyExc_TypeError, "get(): watch receivers");
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)self->max_frame);
    if (!b)
        return NULL;
    size_t len = 0;
    klaw_status st = klaw_watch_get_and_update(self->h, PyBytes_AS_STRING(b), self->max_frame, &len, NULL);
    if (st != KLAW_OK) {
        Py_DECREF(b);
        return raise_status(st, 0);
    }
    _PyBytes_Resize(&b, (Py_ssize_t)len);
    return b;
}

static PyObject *rx_iternext(Handle *self)
{
    rx_ctx c;
    if (take(self, &c, 1, Py_None) < 0) {
        if (PyErr_ExceptionMatches(Closed))
            PyErr_Clear(); /* StopIteration */
        return NULL;
    }
    return copy_release(self, &c);
}

static PyObject *self_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

/* ---- sending ------------------------------------------------------------------------------------- */

typedef struct {
    Handle *self;
    const void *data;
    size_t len;
    klaw_frame f;
} tx_ctx;

static klaw_status tx_send_once(void *p, const struct timespec *d)
{
    tx_ctx *c = p;
    if (c->self->kind == K_MPMC)
        return klaw_mpmc_send(c->self->h, c->data, c->len, d);
    return klaw_bcast_send(c->self->h, c->data, c->len, d);
}

static PyObject *tx_send(Handle *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"data", "timeout", NULL};
    Py_buffer b;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O", kws, &b, &timeout))
        return NULL;
    PyObject *ret = NULL;
    if (check_open(self) < 0)
        goto done;
    klaw_status st;
    if (self->kind == K_WATCH) {
        st = klaw_watch_send(self->h, b.buf, (size_t)b.len, NULL);
    } else if (self->kind == K_ONESHOT) {
        st = klaw_oneshot_send(self->h, b.buf, (size_t)b.len);
    } else {
        /* room now first (see take) */
        st = self->kind == K_MPMC ? klaw_mpmc_try_send(self->h, b.buf, (size_t)b.len)
                                  : klaw_bcast_try_send(self->h, b.buf, (size_t)b.len);
        tx_ctx c = {self, b.buf, (size_t)b.len, {0}};
        if (st == KLAW_FULL && wait_loop(tx_send_once, &c, timeout, &st) < 0)
            goto done;
    }
    if (st == KLAW_OK || st == KLAW_NO_RECEIVERS)
        ret = PyBool_FromLong(st == KLAW_OK); /* broadcast: False when no receiver got it */
    else
        raise_status(st, 0);
done:
    PyBuffer_Release(&b);
    return ret;
}

static PyObject *tx_try_send(Handle *self, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *ret = NULL;
    if (check_open(self) < 0)
        goto done;
    klaw_status st;
    switch (self->kind) {
    case K_MPMC: st = klaw_mpmc_try_send(self->h, b.buf, (size_t)b.len); break;
    case K_BCAST: st = klaw_bcast_try_send(self->h, b.buf, (size_t)b.len); break;
    case K_WATCH: st = klaw_watch_send(self->h, b.buf, (size_t)b.len, NULL); break;
    default: st = klaw_oneshot_send(self->h, b.buf, (size_t)b.len); break;
    }
    if (st == KLAW_OK || st == KLAW_NO_RECEIVERS)
        ret = PyBool_FromLong(st == KLAW_OK);
    else
        raise_status(st, 0);
done:
    PyBuffer_Release(&b);
    return ret;
}

static klaw_status tx_claim_once(void *p, const struct timespec *d)
{
    tx_ctx *c = p;
    if (c->self->kind == K_MPMC)
        return klaw_mpmc_claim(c->self->h, c->len, d, &c->f);
    return klaw_bcast_claim(c->self->h, c->len, d, &c->f);
}

static PyObject *claim_common(Handle *self, Py_ssize_t n, int block, PyObject *timeout)
{
    if (check_open(self) < 0)
        return NULL;
    if (self->kind != K_MPMC && self->kind != K_BCAST) {
        PyErr_SetString(PyExc_TypeError, "claim: mpmc and broadcast senders");
        return NULL;
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "claim: n >= 0");
        return NULL;
    }
    tx_ctx c = {self, NULL, (size_t)n, {0}};
    klaw_status st;
    if (block) {
        if (wait_loop(tx_claim_once, &c, timeout, &st) < 0)
            return NULL;
    } else {
        st = self->kind == K_MPMC ? klaw_mpmc_try_claim(self->h, (size_t)n, &c.f)
                                  : klaw_bcast_try_claim(self->h, (size_t)n, &c.f);
    }
    if (st != KLAW_OK)
        return raise_status(st, 0);
    PyObject *v = new_view(self, &c.f, 1, (size_t)n);
    if (!v) {
        if (self->kind == K_MPMC)
            klaw_mpmc_abort(self->h, &c.f);
        else
            klaw_bcast_abort(self->h, &c.f);
    }
    return v;
}

static PyObject *tx_claim(Handle *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"n", "timeout", NULL};
    Py_ssize_t n;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|O", kws, &n, &timeout))
        return NULL;
    return claim_common(self, n, 1, timeout);
}

static PyObject *tx_try_claim(Handle *self, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    return claim_common(self, n, 0, NULL);
}

/* send_batch(frames, timeout=None): claims a run, copies, commits it in one
 * step (mpmc, broadcast): the count sent (the run may be shorter than the
 * list: call again with the rest). Every frame must fit max_frame. */
static PyObject *tx_send_batch(Handle *self, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"frames", "timeout", NULL};
    PyObject *seq, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kws, &seq, &timeout))
        return NULL;
    if (check_open(self) < 0)
        return NULL;
    if (self->kind != K_MPMC && self->kind != K_BCAST) {
        PyErr_SetString(PyExc_TypeError, "send_batch: mpmc and broadcast senders");
        return NULL;
    }
    PyObject *fast = PySequence_Fast(seq, "send_batch: a sequence of bytes-like objects");
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast), sent = 0;
    PyObject *ret = NULL;
    klaw_frame frames[64];
    while (sent < n) {
        size_t want = (size_t)(n - sent) < 64 ? (size_t)(n - sent) : 64, got = 0;
        struct timespec now = klaw_deadline_in_ms(0);
        klaw_status st;
        if (sent == 0) {
            /* the first run may wait (timeout), later ones take what is free */
            tx_ctx c = {self, NULL, self->max_frame, {0}};
            (void)c;
            int has;
            struct timespec end;
            if (parse_timeout(timeout, &has, &end) < 0)
                goto out;
            for (;;) {
                struct timespec slice = klaw_deadline_in_ms(SLICE_MS);
                if (has && before(&end, &slice))
                    slice = end;
                Py_BEGIN_ALLOW_THREADS
                st = self->kind == K_MPMC
                         ? klaw_mpmc_claim_batch(self->h, self->max_frame, frames, want, &got, &slice)
                         : klaw_bcast_claim_batch(self->h, self->max_frame, frames, want, &got, &slice);
                Py_END_ALLOW_THREADS
                if (st != KLAW_TIMEOUT)
                    break;
                struct timespec t;
                clock_gettime(CLOCK_MONOTONIC, &t);
                if (has && !before(&t, &end))
                    break;
                if (PyErr_CheckSignals() < 0)
                    goto out;
            }
        } else {
            st = self->kind == K_MPMC ? klaw_mpmc_claim_batch(self->h, self->max_frame, frames, want, &got, &now)
                                      : klaw_bcast_claim_batch(self->h, self->max_frame, frames, want, &got, &now);
            if (st == KLAW_TIMEOUT || st == KLAW_FULL)
                break;
        }
        if (st != KLAW_OK) {
            raise_status(st, 0);
            goto out;
        }
        for (size_t i = 0; i < got; i++) {
            Py_buffer b;
            if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(fast, sent + (Py_ssize_t)i), &b, PyBUF_SIMPLE) < 0 ||
                (size_t)b.len > self->max_frame) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "send_batch: a frame is longer than max_frame");
                else
                    b.buf = NULL;
                if (b.buf)
                    PyBuffer_Release(&b);
                for (size_t k = i; k < got; k++)
                    frames[k].len = 0;
                for (size_t k = i; k < got; k++) {
                    if (self->kind == K_MPMC)
                        klaw_mpmc_abort(self->h, &frames[k]);
                    else
                        klaw_bcast_abort(self->h, &frames[k]);
                }
                if (i)
                    self->kind == K_MPMC ? klaw_mpmc_commit_batch(self->h, frames, i)
                                         : klaw_bcast_commit_batch(self->h, frames, i);
                goto out;
            }
            memcpy(frames[i].data, b.buf, (size_t)b.len);
            frames[i].len = (uint32_t)b.len;
            PyBuffer_Release(&b);
        }
        st = self->kind == K_MPMC ? klaw_mpmc_commit_batch(self->h, frames, got)
                                  : klaw_bcast_commit_batch(self->h, frames, got);
        if (st != KLAW_OK && st != KLAW_NO_RECEIVERS) {
            raise_status(st, 0);
            goto out;
        }
        sent += (Py_ssize_t)got;
    }
    ret = PyLong_FromSsize_t(sent);
out:
    Py_DECREF(fast);
    return ret;
}

/* oneshot sender: has the receiver gone? */
static PyObject *tx_is_closed(Handle *self, PyObject *unused)
{
    (void)unused;
    if (self->kind != K_ONESHOT) {
        PyErr_SetString(PyExc_TypeError, "is_closed(): oneshot senders");
        return NULL;
    }
    if (check_open(self) < 0)
        return NULL;
    return PyBool_FromLong(klaw_oneshot_is_closed(self->h));
}

/* ---- types ------------------------------------------------------------------------------------------ */

static PyGetSetDef handle_getset[] = {
    {"closed", (getter)handle_get_closed, NULL, "True once close() was called.", NULL},
    {"kind", (getter)handle_get_kind, NULL, "'mpmc', 'broadcast', 'watch' or 'oneshot'.", NULL},
    {"name", (getter)handle_get_name, NULL, "The channel's name (None: anonymous).", NULL},
    {"max_frame", (getter)handle_get_max_frame, NULL, "The largest frame in bytes.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef sender_methods[] = {
    {"send", (PyCFunction)(void (*)(void))tx_send, METH_VARARGS | METH_KEYWORDS,
     "send(data, timeout=None): copies data in as one frame, waiting for room."},
    {"try_send", (PyCFunction)tx_try_send, METH_O, "try_send(data): Full when there is no room now."},
    {"send_batch", (PyCFunction)(void (*)(void))tx_send_batch, METH_VARARGS | METH_KEYWORDS,
     "send_batch(frames, timeout=None) -> how many were sent (claimed and committed in runs)."},
    {"claim", (PyCFunction)(void (*)(void))tx_claim, METH_VARARGS | METH_KEYWORDS,
     "claim(n, timeout=None) -> a Claim: `with tx.claim(n) as buf:` writes in place, commits at the end."},
    {"try_claim", (PyCFunction)tx_try_claim, METH_O, "try_claim(n) -> a Claim, or Full."},
    {"is_closed", (PyCFunction)tx_is_closed, METH_NOARGS, "oneshot: True once the receiver is gone."},
    {"fileno", (PyCFunction)handle_fileno, METH_NOARGS, "A descriptor readable when there is room (mpmc, BLOCK)."},
    {"arm", (PyCFunction)handle_arm, METH_NOARGS, "Arms the descriptor; returns the seconds to wait at most."},
    {"stats", (PyCFunction)handle_stats, METH_NOARGS, "The channel's counters, a dict."},
    {"close", (PyCFunction)handle_close, METH_NOARGS, "Closes the handle (idempotent)."},
    {"__enter__", (PyCFunction)handle_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)handle_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef receiver_methods[] = {
    {"recv", (PyCFunction)(void (*)(void))rx_recv, METH_VARARGS | METH_KEYWORDS,
     "recv(timeout=None) -> bytes: the next frame (watch: the next version's value), copied."},
    {"try_recv", (PyCFunction)rx_try_recv, METH_NOARGS, "try_recv() -> bytes, or Empty."},
    {"view", (PyCFunction)(void (*)(void))rx_view, METH_VARARGS | METH_KEYWORDS,
     "view(timeout=None) -> a View: `with rx.view() as frame:` a read-only memoryview over the slot."},
    {"try_view", (PyCFunction)rx_try_view, METH_NOARGS, "try_view() -> a View, or Empty."},
    {"recv_batch", (PyCFunction)(void (*)(void))rx_recv_batch, METH_VARARGS | METH_KEYWORDS,
     "recv_batch(max=64, timeout=None) -> a list of 1..max frames (mpmc, broadcast)."},
    {"get", (PyCFunction)rx_get, METH_NOARGS, "watch: the current value, marked seen."},
    {"fileno", (PyCFunction)handle_fileno, METH_NOARGS, "A descriptor readable when there is something to do."},
    {"arm", (PyCFunction)handle_arm, METH_NOARGS, "Arms the descriptor; returns the seconds to wait at most."},
    {"stats", (PyCFunction)handle_stats, METH_NOARGS, "The channel's counters, a dict."},
    {"close", (PyCFunction)handle_close, METH_NOARGS, "Closes the handle (idempotent)."},
    {"__enter__", (PyCFunction)handle_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)handle_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SenderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "klaw._klaw.Sender",
    .tp_basicsize = sizeof(Handle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A sender handle of a klaw channel (made by klaw.Mpmc, klaw.Broadcast, ...).",
    .tp_methods = sender_methods,
    .tp_getset = handle_getset,
};

static PyTypeObject ReceiverType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "klaw._klaw.Receiver",
    .tp_basicsize = sizeof(Handle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A receiver handle of a klaw channel; iterating yields frames until Closed.",
    .tp_methods = receiver_methods,
    .tp_getset = handle_getset,
    .tp_iter = self_iter,
    .tp_iternext = (iternextfunc)rx_iternext,
};

static PyTypeObject ViewType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "klaw._klaw.View",
    .tp_basicsize = sizeof(View),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A frame in place; `with` gives a read-only memoryview and releases the slot at the end.",
    .tp_methods = view_methods,
    .tp_getset = view_getset,
    .tp_as_buffer = &view_as_buffer,
    .tp_as_sequence = &view_as_seq,
};

static PyTypeObject ClaimType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "klaw._klaw.Claim",
    .tp_basicsize = sizeof(View),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A claimed slot; `with` gives a writable memoryview and commits `length` bytes at the end "
              "(aborts on an exception).",
    .tp_methods = view_methods,
    .tp_getset = view_getset,
    .tp_as_buffer = &view_as_buffer,
    .tp_as_sequence = &view_as_seq,
};

/* ---- opening and creating ---------------------------------------------------------------------------- */

static PyObject *pair(int kind, void *tx, void *rx, uint32_t max_frame, const char *name)
{
    PyObject *t = new_handle(kind, 1, tx, max_frame, name); /* owns tx */
    if (!t) {
        free_c(kind, 0, rx);
        return NULL;
    }
    PyObject *r = new_handle(kind, 0, rx, max_frame, name); /* owns rx */
    if (!r) {
        Py_DECREF(t); /* frees tx */
        return NULL;
    }
    PyObject *p = PyTuple_Pack(2, t, r);
    Py_DECREF(t);
    Py_DECREF(r);
    return p;
}

static uint32_t max_frame_of(const char *name)
{
    klaw_channel *ch;
    if (klaw_channel_open(name, 0, &ch, NULL) != KLAW_OK)
        return 0;
    uint32_t m = klaw_channel_meta(ch)->max_frame;
    klaw_channel_close(ch);
    return m;
}

static PyObject *mpmc_create(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kws[] = {"capacity", "max_frame", "name", "mode", NULL};
    unsigned capacity = 1024, max_frame = 4096, mode = 0;
    const char *name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IIzI", kws, &capacity, &max_frame, &name, &mode))
        return NULL;
    klaw_mpmc_opts o = {.capacity = capacity, .max_frame = max_frame, .name = name, .mode = (mode_t)mode};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    klaw_status st = klaw_mpmc_create(&o, &tx, &rx);
    if (st != KLAW_OK)
        return raise_status(st, 0);
    return pair(K_MPMC, tx, rx, max_frame, name);
}

static PyObject *bcast_create(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kws[] = {"capacity", "max_frame", "policy", "name", "mode", NULL};
    unsigned capacity = 1024, max_frame = 4096, mode = 0;
    const char *policy = "overwrite", *name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IIszI", kws, &capacity, &max_frame, &policy, &name, &mode))
        return NULL;
    int pol;
    if (strcmp(policy, "overwrite") == 0)
        pol = KLAW_POLICY_OVERWRITE;
    else if (strcmp(policy, "block") == 0)
        pol = KLAW_POLICY_BLOCK;
    else {
        PyErr_SetString(PyExc_ValueError, "policy: 'overwrite' or 'block'");
        return NULL;
    }
    klaw_bcast_opts o = {.capacity = capacity, .max_frame = max_frame, .policy = pol, .name = name,
                         .mode = (mode_t)mode};
    klaw_bcast_tx *tx;
    klaw_status st = klaw_bcast_create(&o, &tx);
    if (st != KLAW_OK)
        return raise_status(st, 0);
    return new_handle(K_BCAST, 1, tx, max_frame, name);
}

static PyObject *bcast_subscribe(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kws[] = {"tx", "reader_id", "from_oldest", NULL};
    Handle *tx;
    const char *reader_id = NULL;
    int from_oldest = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|zp", kws, &SenderType, &tx, &reader_id, &from_oldest))
        return NULL;
    if (check_open(tx) < 0)
        return NULL;
    if (tx->kind != K_BCAST) {
        PyErr_SetString(PyExc_TypeError, "subscribe: a broadcast sender");
        return NULL;
    }
    klaw_bcast_rx *rx;
    klaw_status st = klaw_bcast_subscribe(tx->h, from_oldest ? KLAW_BCAST_FROM_OLDEST : KLAW_BCAST_FROM_TAIL,
                                          reader_id, &rx);
    if (st != KLAW_OK)
        return raise_status(st, 0);
    const char *name = tx->name == Py_None ? NULL : PyUnicode_AsUTF8(tx->name);
    return new_handle(K_BCAST, 0, rx, tx->max_frame, name);
}

static PyObject *watch_create(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kws[] = {"max_frame", "initial", "name", "mode", NULL};
    unsigned max_frame = 4096, mode = 0;
    const char *name = NULL;
    Py_buffer init = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Iy*zI", kws, &max_frame, &init, &name, &mode))
        return NULL;
    klaw_watch_opts o = {.max_frame = max_frame, .name = name, .mode = (mode_t)mode, .initial = init.buf,
                         .initial_len = init.buf ? (size_t)init.len : 0};
    klaw_watch_tx *tx;
    klaw_watch_rx *rx;
    klaw_status st = klaw_watch_create(&o, &tx, &rx);
    if (init.obj)
        PyBuffer_Release(&init);
    if (st != KLAW_OK)
        return raise_status(st, 0);
    return pair(K_WATCH, tx, rx, max_frame, name);
}

static PyObject *oneshot_create(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kws[] = {"max_frame", "name", "mode", "tx", "rx", NULL};
    unsigned max_frame = 4096, mode = 0;
    const char *name = NULL;
    int want_tx = 1, want_rx = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IzIpp", kws, &max_frame, &name, &mode, &want_tx, &want_rx))
        return NULL;
    klaw_oneshot_opts o = {.max_frame = max_frame, .name = name, .mode = (mode_t)mode};
    klaw_oneshot_tx *tx = NULL;
    klaw_oneshot_rx *rx = NULL;
    klaw_status st = klaw_oneshot_create(&o, want_tx ? &tx : NULL, want_rx ? &rx : NULL);
    if (st != KLAW_OK)
        return raise_status(st, 0);
    PyObject *t = tx ? new_handle(K_ONESHOT, 1, tx, max_frame, name) : (Py_INCREF(Py_None), Py_None);
    if (!t) {
        free_c(K_ONESHOT, 0, rx);
        return NULL;
    }
    PyObject *r = rx ? new_handle(K_ONESHOT, 0, rx, max_frame, name) : (Py_INCREF(Py_None), Py_None);
    if (!r) {
        Py_DECREF(t);
        return NULL;
    }
    PyObject *p = PyTuple_Pack(2, t, r);
    Py_DECREF(t);
    Py_DECREF(r);
    return p;
}

/* open(kind, side, name, reader_id=None, from_oldest=False) */
static PyObject *open_handle(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kws[] = {"kind", "side", "name", "reader_id", "from_oldest", NULL};
    const char *kind, *side, *name, *reader_id = NULL;
    int from_oldest = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sss|zp", kws, &kind, &side, &name, &reader_id, &from_oldest))
        return NULL;
    int tx = strcmp(side, "tx") == 0;
    if (!tx && strcmp(side, "rx") != 0) {
        PyErr_SetString(PyExc_ValueError, "side: 'tx' or 'rx'");
        return NULL;
    }
    void *h = NULL;
    int k;
    klaw_status st;
    if (strcmp(kind, "mpmc") == 0) {
        k = K_MPMC;
        st = tx ? klaw_mpmc_open_tx(name, (klaw_mpmc_tx **)&h) : klaw_mpmc_open_rx(name, (klaw_mpmc_rx **)&h);
    } else if (strcmp(kind, "broadcast") == 0) {
        k = K_BCAST;
        st = tx ? klaw_bcast_open_tx(name, (klaw_bcast_tx **)&h)
                : klaw_bcast_open_rx(name, from_oldest ? KLAW_BCAST_FROM_OLDEST : KLAW_BCAST_FROM_TAIL, reader_id,
                                     (klaw_bcast_rx **)&h);
    } else if (strcmp(kind, "watch") == 0) {
        k = K_WATCH;
        st = tx ? klaw_watch_open_tx(name, (klaw_watch_tx **)&h) : klaw_watch_open_rx(name, (klaw_watch_rx **)&h);
    } else if (strcmp(kind, "oneshot") == 0) {
        k = K_ONESHOT;
        st = tx ? klaw_oneshot_open_tx(name, (klaw_oneshot_tx **)&h)
                : klaw_oneshot_open_rx(name, (klaw_oneshot_rx **)&h);
    } else {
        PyErr_SetString(PyExc_ValueError, "kind: 'mpmc', 'broadcast', 'watch' or 'oneshot'");
        return NULL;
    }
    if (st != KLAW_OK)
        return raise_status(st, 0);
    return new_handle(k, tx, h, max_frame_of(name), name);
}

static PyObject *unlink_channel(PyObject *mod, PyObject *arg)
{
    (void)mod;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    klaw_status st = klaw_region_unlink(name);
    if (st != KLAW_OK && st != KLAW_NOENT)
        return raise_status(st, 0);
    return PyBool_FromLong(st == KLAW_OK);
}

/* ---- a channel's records as JSON text (klaw/channel.h) -------------------------------------------------- */

static klaw_status json_collect(void *ctx, const char *data, size_t len)
{
    PyObject *list = ctx;
    PyObject *s = PyUnicode_FromStringAndSize(data, (Py_ssize_t)len);
    if (!s || PyList_Append(list, s) < 0) {
        Py_XDECREF(s);
        return KLAW_NOMEM;
    }
    Py_DECREF(s);
    return KLAW_OK;
}

static PyObject *joined(PyObject *parts)
{
    PyObject *empty = PyUnicode_FromString("");
    PyObject *r = empty ? PyUnicode_Join(empty, parts) : NULL;
    Py_XDECREF(empty);
    return r;
}

/* info(name) -> (metadata JSON, stats JSON, [reader JSON...]) */
static PyObject *channel_info(PyObject *mod, PyObject *arg)
{
    (void)mod;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name)
        return NULL;
    klaw_channel *ch;
    klaw_status st = klaw_channel_open(name, 1000, &ch, NULL);
    if (st != KLAW_OK)
        return raise_status(st, 0);
    PyObject *meta = PyList_New(0), *stats = PyList_New(0), *readers = PyList_New(0), *out = NULL;
    klaw_channel_stats cs;
    klaw_reader_info ri[256];
    size_t nr = 0;
    if (!meta || !stats || !readers)
        goto done;
    if ((st = klaw_channel_meta_json(ch, json_collect, meta)) != KLAW_OK ||
        (st = klaw_channel_read_stats(ch, &cs)) != KLAW_OK ||
        (st = klaw_record_json(KLAW_RECORD_CHANNEL_STATS, &cs, json_collect, stats)) != KLAW_OK) {
        if (!PyErr_Occurred())
            raise_status(st, 0);
        goto done;
    }
    if (klaw_channel_readers(ch, ri, 256, &nr) != KLAW_OK)
        nr = 0;
    for (size_t i = 0; i < nr && i < 256; i++) {
        PyObject *one = PyList_New(0);
        if (!one || klaw_record_json(KLAW_RECORD_READER_INFO, &ri[i], json_collect, one) != KLAW_OK) {
            Py_XDECREF(one);
            goto done;
        }
        PyObject *s = joined(one);
        Py_DECREF(one);
        if (!s || PyList_Append(readers, s) < 0) {
            Py_XDECREF(s);
            goto done;
        }
        Py_DECREF(s);
    }
    {
        PyObject *m = joined(meta), *s = joined(stats);
        if (m && s)
            out = PyTuple_Pack(3, m, s, readers);
        Py_XDECREF(m);
        Py_XDECREF(s);
    }
done:
    klaw_channel_close(ch);
    Py_XDECREF(meta);
    Py_XDECREF(stats);
    Py_XDECREF(readers);
    return out;
}

/* ---- select -------------------------------------------------------------------------------------------- */

typedef struct {
    klaw_sel_case cases[KLAW_SELECT_MAX];
    size_t n;
    klaw_sel_result r;
} sel_ctx;

static klaw_status sel_once(void *p, const struct timespec *d)
{
    sel_ctx *c = p;
    return klaw_select(c->cases, c->n, 0, d, &c->r);
}

static int sel_fill(PyObject *fast, sel_ctx *c)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n < 1 || n > (Py_ssize_t)KLAW_SELECT_MAX) {
        PyErr_SetString(PyExc_ValueError, "select: 1..128 receivers");
        return -1;
    }
    static const klaw_sel_kind kinds[] = {0, KLAW_SEL_MPMC, KLAW_SEL_BROADCAST, KLAW_SEL_WATCH, KLAW_SEL_ONESHOT};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyObject_TypeCheck(o, &ReceiverType)) {
            PyErr_SetString(PyExc_TypeError, "select: receivers only");
            return -1;
        }
        Handle *h = (Handle *)o;
        if (check_open(h) < 0)
            return -1;
        c->cases[i].kind = kinds[h->kind];
        c->cases[i].rx = h->h;
    }
    c->n = (size_t)n;
    return 0;
}

/* select(receivers, timeout=None) -> (index, bytes); Lagged / Closed carry
 * .index. */
static PyObject *py_select(PyObject *mod, PyObject *args, PyObject *kw)
{
    (void)mod;
    static char *kws[] = {"receivers", "timeout", NULL};
    PyObject *seq, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kws, &seq, &timeout))
        return NULL;
    PyObject *fast = PySequence_Fast(seq, "select: a sequence of receivers");
    if (!fast)
        return NULL;
    sel_ctx *c = PyMem_Calloc(1, sizeof *c);
    PyObject *out = NULL;
    if (!c) {
        PyErr_NoMemory();
        goto done;
    }
    if (sel_fill(fast, c) < 0)
        goto done;
    klaw_status st;
    if (wait_loop(sel_once, c, timeout, &st) < 0)
        goto done;
    if (st == KLAW_OK) {
        PyObject *b = PyBytes_FromStringAndSize((const char *)c->r.frame.data, (Py_ssize_t)c->r.frame.len);
        klaw_status rs = klaw_sel_release(c->cases, &c->r);
        if (b && rs != KLAW_OK) {
            Py_CLEAR(b);
            raise_status(rs, 1);
        }
        if (b)
            out = Py_BuildValue("(nN)", (Py_ssize_t)c->r.index, b);
        goto done;
    }
    raise_status(st, c->r.lagged);
    if (c->r.index != SIZE_MAX) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        PyErr_NormalizeException(&et, &ev, &tb);
        PyObject *ix = PyLong_FromSize_t(c->r.index);
        if (ev && ix)
            PyObject_SetAttrString(ev, "index", ix);
        Py_XDECREF(ix);
        PyErr_Restore(et, ev, tb);
    }
done:
    PyMem_Free(c);
    Py_DECREF(fast);
    return out;
}

/* A select set's descriptor: SelFd(receivers) with fileno() and arm(). */
typedef struct {
    PyObject_HEAD
    klaw_sel_fd *sf;
    sel_ctx *c;
    PyObject *keep; /* the receivers (kept alive while armed with them) */
} SelFd;

static void selfd_dealloc(SelFd *self)
{
    klaw_sel_fd_free(self->sf);
    PyMem_Free(self->c);
    Py_XDECREF(self->keep);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *selfd_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kws[] = {"receivers", NULL};
    PyObject *seq;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O", kws, &seq))
        return NULL;
    PyObject *fast = PySequence_Fast(seq, "SelectFd: a sequence of receivers");
    if (!fast)
        return NULL;
    SelFd *s = (SelFd *)type->tp_alloc(type, 0);
    if (!s) {
        Py_DECREF(fast);
        return NULL;
    }
    s->keep = fast;
    s->c = PyMem_Calloc(1, sizeof *s->c);
    if (!s->c) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    if (sel_fill(fast, s->c) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    klaw_status st = klaw_sel_fd_open(&s->sf);
    if (st != KLAW_OK) {
        Py_DECREF(s);
        return raise_status(st, 0);
    }
    return (PyObject *)s;
}

static PyObject *selfd_fileno(SelFd *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromLong(klaw_sel_fd_get(self->sf));
}

static PyObject *selfd_arm(SelFd *self, PyObject *unused)
{
    (void)unused;
    int ms = 1000;
    klaw_status st = klaw_sel_fd_arm(self->sf, self->c->cases, self->c->n, &ms);
    if (st != KLAW_OK)
        return raise_status(st, 0);
    return PyFloat_FromDouble(ms / 1000.0);
}

static PyMethodDef selfd_methods[] = {
    {"fileno", (PyCFunction)selfd_fileno, METH_NOARGS, "The set's descriptor."},
    {"arm", (PyCFunction)selfd_arm, METH_NOARGS, "Arms every receiver of the set; the seconds to wait at most."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SelFdType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "klaw._klaw.SelectFd",
    .tp_basicsize = sizeof(SelFd),
    .tp_dealloc = (destructor)selfd_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One descriptor for a set of receivers (klaw_sel_fd).",
    .tp_methods = selfd_methods,
    .tp_new = selfd_new,
};

/* ---- the wire envelope (klaw/envelope.h) ---------------------------------------------------------------- */

/* envelope_view(frame) -> (type, version, kind, channel_id, seq, ts_ms,
 * fields, payload_offset, payload_length): fields is a tuple of the type's
 * own fields (data: (); control: (action, metadata offset, length); ...);
 * offsets count from the frame's start, so the caller slices its
 * memoryview without a copy. */
static PyObject *envelope_view(PyObject *mod, PyObject *arg)
{
    (void)mod;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    klaw_envelope env;
    klaw_envelope_error err;
    klaw_status st = klaw_envelope_view(b.buf, (size_t)b.len, &env, &err);
    PyObject *out = NULL;
    if (st != KLAW_OK) {
        char msg[256];
        klaw_envelope_error_format(&err, msg, sizeof msg);
        PyErr_SetString(DecodeError, msg);
        goto done;
    }
    const uint8_t *base = b.buf;
    PyObject *fields;
#define OFF(p) ((Py_ssize_t)((const uint8_t *)(p) - base))
    switch (env.type) {
    case KLAW_ENV_DATA:
        fields = Py_BuildValue("(nn)", env.data.payload.len ? OFF(env.data.payload.ptr) : (Py_ssize_t)0,
                               (Py_ssize_t)env.data.payload.len);
        break;
    case KLAW_ENV_CONTROL:
        fields = Py_BuildValue("(s#nn)", env.control.action.ptr, (Py_ssize_t)env.control.action.len,
                               env.control.metadata.len ? OFF(env.control.metadata.ptr) : (Py_ssize_t)0,
                               (Py_ssize_t)env.control.metadata.len);
        break;
    case KLAW_ENV_HEARTBEAT:
        fields = Py_BuildValue("(s#)", env.heartbeat.sender_id.ptr, (Py_ssize_t)env.heartbeat.sender_id.len);
        break;
    case KLAW_ENV_ACK:
        fields = Py_BuildValue("(Ks#)", (unsigned long long)env.ack.acked_seq, env.ack.status.ptr,
                               (Py_ssize_t)env.ack.status.len);
        break;
    default:
        fields = Py_BuildValue("(s#s#nn)", env.error.code.ptr, (Py_ssize_t)env.error.code.len,
                               env.error.message.ptr, (Py_ssize_t)env.error.message.len,
                               env.error.details.len ? OFF(env.error.details.ptr) : (Py_ssize_t)0,
                               (Py_ssize_t)env.error.details.len);
        break;
    }
#undef OFF
    if (!fields)
        goto done;
    out = Py_BuildValue("(iIis#KLN)", (int)env.type, (unsigned)env.header.version, (int)env.header.kind,
                        env.header.channel_id.ptr, (Py_ssize_t)env.header.channel_id.len,
                        (unsigned long long)env.header.seq, (long long)env.header.ts_ms, fields);
done:
    PyBuffer_Release(&b);
    return out;
}

/* envelope_build(type, channel_id, seq, ts_ms, a=None, b=None, c=None) ->
 * bytes, with klaw's C writers: data (a: the payload, already MessagePack;
 * None: nil), control (a: action, b: metadata or None), heartbeat (a:
 * sender_id), ack (a: acked_seq, b: status), error (a: code, b: message,
 * c: details or None). */
static PyObject *envelope_build(PyObject *mod, PyObject *args)
{
    (void)mod;
    int type;
    const char *ch;
    Py_ssize_t chlen;
    unsigned long long seq;
    long long ts;
    PyObject *a = Py_None, *b = Py_None, *c = Py_None;
    if (!PyArg_ParseTuple(args, "is#KL|OOO", &type, &ch, &chlen, &seq, &ts, &a, &b, &c))
        return NULL;
    klaw_envelope_header h = klaw_envelope_header_make(ch, (uint32_t)chlen, seq, ts);
    Py_buffer bufs[3] = {{0}};
    PyObject *objs[3] = {a, b, c};
    const char *s[3] = {NULL, NULL, NULL};
    Py_ssize_t sl[3] = {0, 0, 0};
    PyObject *out = NULL;
    uint8_t *mem = NULL;
    size_t total = 64 + (size_t)chlen;
    for (int i = 0; i < 3; i++) {
        if (objs[i] == Py_None)
            continue;
        if (PyUnicode_Check(objs[i])) {
            s[i] = PyUnicode_AsUTF8AndSize(objs[i], &sl[i]);
            if (!s[i])
                goto done;
            total += (size_t)sl[i] + 8;
        } else if (PyLong_Check(objs[i])) {
            total += 9;
        } else {
            if (PyObject_GetBuffer(objs[i], &bufs[i], PyBUF_SIMPLE) < 0)
                goto done;
            s[i] = bufs[i].buf;
            sl[i] = bufs[i].len;
            total += (size_t)sl[i];
        }
    }
    mem = PyMem_Malloc(total);
    if (!mem) {
        PyErr_NoMemory();
        goto done;
    }
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, mem, total);
    klaw_mp_raw r0 = {(const uint8_t *)s[0], (size_t)sl[0]}, r1 = {(const uint8_t *)s[1], (size_t)sl[1]},
                r2 = {(const uint8_t *)s[2], (size_t)sl[2]};
    switch (type) {
    case KLAW_ENV_DATA: klaw_envelope_write_data(&w, &h, r0); break;
    case KLAW_ENV_CONTROL: klaw_envelope_write_control(&w, &h, s[0], (size_t)sl[0], r1); break;
    case KLAW_ENV_HEARTBEAT: klaw_envelope_write_heartbeat(&w, &h, s[0], (size_t)sl[0]); break;
    case KLAW_ENV_ACK: {
        unsigned long long acked = PyLong_AsUnsignedLongLong(a);
        if (PyErr_Occurred())
            goto done;
        klaw_envelope_write_ack(&w, &h, acked, s[1], (size_t)sl[1]);
        break;
    }
    case KLAW_ENV_ERROR: klaw_envelope_write_error(&w, &h, s[0], (size_t)sl[0], s[1], (size_t)sl[1], r2); break;
    default:
        PyErr_SetString(PyExc_ValueError, "type: 1..5 (data, control, heartbeat, ack, error)");
        goto done;
    }
    size_t len = 0;
    klaw_status st = klaw_mp_writer_finish(&w, &len);
    if (st != KLAW_OK) {
        raise_status(st, 0);
        goto done;
    }
    out = PyBytes_FromStringAndSize((const char *)mem, (Py_ssize_t)len);
done:
    PyMem_Free(mem);
    for (int i = 0; i < 3; i++)
        if (bufs[i].obj)
            PyBuffer_Release(&bufs[i]);
    return out;
}

/* ---- the module ----------------------------------------------------------------------------------------- */

static PyMethodDef module_methods[] = {
    {"mpmc_create", (PyCFunction)(void (*)(void))mpmc_create, METH_VARARGS | METH_KEYWORDS, NULL},
    {"bcast_create", (PyCFunction)(void (*)(void))bcast_create, METH_VARARGS | METH_KEYWORDS, NULL},
    {"bcast_subscribe", (PyCFunction)(void (*)(void))bcast_subscribe, METH_VARARGS | METH_KEYWORDS, NULL},
    {"watch_create", (PyCFunction)(void (*)(void))watch_create, METH_VARARGS | METH_KEYWORDS, NULL},
    {"oneshot_create", (PyCFunction)(void (*)(void))oneshot_create, METH_VARARGS | METH_KEYWORDS, NULL},
    {"open", (PyCFunction)(void (*)(void))open_handle, METH_VARARGS | METH_KEYWORDS, NULL},
    {"unlink", (PyCFunction)unlink_channel, METH_O, "Removes a named channel (True if it was there)."},
    {"info", (PyCFunction)channel_info, METH_O, NULL},
    {"select", (PyCFunction)(void (*)(void))py_select, METH_VARARGS | METH_KEYWORDS, NULL},
    {"envelope_view", (PyCFunction)envelope_view, METH_O, NULL},
    {"envelope_build", (PyCFunction)envelope_build, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_klaw", "klaw's C half (see klaw/__init__.py).",
                                        -1, module_methods, NULL, NULL, NULL, NULL};

static PyObject *new_error(PyObject *m, const char *name, PyObject *base, const char *doc)
{
    char full[64];
    snprintf(full, sizeof full, "klaw.%s", name);
    PyObject *e = PyErr_NewExceptionWithDoc(full, doc, base, NULL);
    if (e && PyModule_AddObjectRef(m, name, e) < 0) {
        Py_DECREF(e);
        return NULL;
    }
    return e;
}

PyMODINIT_FUNC PyInit__klaw(void);
PyMODINIT_FUNC PyInit__klaw(void)
{
    if (PyType_Ready(&SenderType) < 0 || PyType_Ready(&ReceiverType) < 0 || PyType_Ready(&ViewType) < 0 ||
        PyType_Ready(&ClaimType) < 0 || PyType_Ready(&SelFdType) < 0)
        return NULL;
    str_release = PyUnicode_InternFromString("release");
    if (!str_release)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (!(Error = new_error(m, "Error", NULL, "A klaw status other than OK (.status: the klaw_status).")) ||
        !(Closed = new_error(m, "Closed", Error, "The channel (or this handle) is closed.")) ||
        !(Timeout = new_error(m, "Timeout", Error, "The timeout passed with nothing to do.")) ||
        !(Lagged = new_error(m, "Lagged", Error, "A broadcast receiver missed .missed frames.")) ||
        !(Corrupt = new_error(m, "Corrupt", Error, "The channel's shared memory is corrupt or hostile.")) ||
        !(Full = new_error(m, "Full", Error, "No room now (try_ forms).")) ||
        !(Empty = new_error(m, "Empty", Error, "Nothing now (try_ forms).")) ||
        !(TooBig = new_error(m, "TooBig", Error, "Longer than the channel's max_frame.")) ||
        !(NotFound = new_error(m, "NotFound", Error, "No such channel.")) ||
        !(Exists = new_error(m, "Exists", Error, "It exists already.")) ||
        !(Invalid = new_error(m, "Invalid", Error, "An argument outside its domain.")) ||
        !(SysError = new_error(m, "SysError", Error, "The system refused (errno).")) ||
        !(DecodeError = new_error(m, "DecodeError", Error, "Malformed MessagePack or wire envelope.")) ||
        !(AlreadySent = new_error(m, "AlreadySent", Error, "A oneshot's value was sent already.")) ||
        !(PermissionDenied = new_error(m, "PermissionDenied", Error, "The system refused access (the channel's mode).")) ||
        !(VersionMismatch = new_error(m, "VersionMismatch", Error, "A layout or wire version klaw does not read."))) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Sender", (PyObject *)&SenderType) < 0 ||
        PyModule_AddObjectRef(m, "Receiver", (PyObject *)&ReceiverType) < 0 ||
        PyModule_AddObjectRef(m, "View", (PyObject *)&ViewType) < 0 ||
        PyModule_AddObjectRef(m, "Claim", (PyObject *)&ClaimType) < 0 ||
        PyModule_AddObjectRef(m, "SelectFd", (PyObject *)&SelFdType) < 0 ||
        PyModule_AddStringConstant(m, "version", klaw_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
