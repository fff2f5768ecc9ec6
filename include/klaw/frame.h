/*
 * klaw/frame.h - what every channel kind hands out: a frame in place, and
 * the deadline helper the blocking calls take.
 */
#ifndef KLAW_FRAME_H
#define KLAW_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "klaw/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A claimed or viewed frame. data points into the channel's memory; valid
 * until commit/abort (sender) or release (receiver). seq is the frame's
 * sequence number (a watch value's version). */
typedef struct klaw_frame {
    uint8_t *data;
    uint32_t len;  /* receiver: the frame's length; sender: bytes claimed */
    uint32_t cap;  /* sender: max_frame (commit may grow len up to it)    */
    uint64_t seq;  /* the frame's sequence number                          */
    void *slot_;   /* internal                                             */
    uint64_t pos_; /* internal                                             */
} klaw_frame;

/* An absolute CLOCK_MONOTONIC deadline `ms` milliseconds from now. Every
 * blocking call takes such a deadline, or NULL to wait as long as it takes. */
KLAW_API struct timespec klaw_deadline_in_ms(int64_t ms);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_FRAME_H */
