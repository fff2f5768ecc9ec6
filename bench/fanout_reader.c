/*
 * fanout_reader.c - a reader's tally (fanout.h): its start, a bad frame's
 * record, and, for at-least-once deliveries, the window of frames still
 * missing behind the last one, which tells a frame that comes late (it
 * fills its gap) from one that comes twice.
 */
#include <stdio.h>
#include <string.h>

#include "fanout.h"

void fanout_reader_init(fanout_reader *r, uint32_t frame_bytes, bool exact_gaps, bool at_least_once)
{
    memset(r, 0, sizeof *r);
    r->frame_bytes = frame_bytes;
    r->exact_gaps = exact_gaps;
    r->at_least_once = at_least_once;
}

/* The window is a ring of bits, bit seq % FANOUT_LATE_WINDOW. Invariant:
 * the bits of (last - window, last] are set exactly for the seqs missing
 * there, and `missing` counts them. Moving last forward rewrites every
 * bit it passes: a bit still set there belonged to a seq now out of the
 * window, lost for good (it stays in lagged). */
static uint64_t *gap_word(fanout_reader *r, uint64_t seq, uint64_t *bit)
{
    *bit = UINT64_C(1) << (seq % 64);
    return &r->gaps[(seq / 64) % (FANOUT_LATE_WINDOW / 64)];
}

void fanout_reader_gaps(fanout_reader *r, uint64_t seq)
{
    uint64_t from = r->last + 1, bit;
    if (seq - from >= FANOUT_LATE_WINDOW) { /* every bit is rewritten */
        memset(r->gaps, 0, sizeof r->gaps);
        r->missing = 0;
        from = seq - FANOUT_LATE_WINDOW + 1;
    }
    for (uint64_t s = from; s <= seq; s++) {
        uint64_t *w = gap_word(r, s, &bit);
        if (*w & bit) {
            *w &= ~bit;
            r->missing--;
        }
        if (s != seq) {
            *w |= bit;
            r->missing++;
        }
    }
}

bool fanout_reader_again(fanout_reader *r, const fanout_seen *s, uint64_t now_ns)
{
    uint64_t bit;
    if (r->last - s->seq < FANOUT_LATE_WINDOW) {
        uint64_t *w = gap_word(r, s->seq, &bit);
        if (*w & bit) {
            *w &= ~bit;
            r->missing--;
            r->lagged--; /* counted when its gap was seen */
            r->late++;
            fanout_reader_took(r, s, now_ns);
            return true;
        }
    }
    r->dups++;
    return false;
}

void fanout_reader_bad(fanout_reader *r, const fanout_seen *s, const char *what)
{
    if (r->bad++)
        return;
    snprintf(r->why, sizeof r->why, "frame seq %llu (%u bytes, after seq %llu): %s", (unsigned long long)s->seq,
             s->len, (unsigned long long)r->last, what);
}
