/* fanout_hist.c - the fanout suite's latency histogram (fanout.h): bucket
 * bounds, quantiles, merging. Recording a sample is inline in fanout.h;
 * bench/test_fanout_hist.c checks all of it. */
#include <math.h>

#include "fanout.h"

uint64_t fanout_hist_bucket_high(unsigned i)
{
    if (i < FANOUT_HIST_SUB)
        return i;
    unsigned e = i / FANOUT_HIST_SUB + FANOUT_HIST_SUB_BITS - 1;
    uint64_t m = i % FANOUT_HIST_SUB;
    return ((FANOUT_HIST_SUB + m + 1) << (e - FANOUT_HIST_SUB_BITS)) - 1;
}

uint64_t fanout_hist_quantile(const fanout_hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n), seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < FANOUT_HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            if (i == FANOUT_HIST_BUCKETS - 1)
                return h->max; /* the catch-all bucket: no upper bound */
            uint64_t hi = fanout_hist_bucket_high(i);
            return hi < h->max ? hi : h->max;
        }
    }
    return h->max;
}

void fanout_hist_merge(fanout_hist *into, const fanout_hist *from)
{
    for (unsigned i = 0; i < FANOUT_HIST_BUCKETS; i++)
        into->count[i] += from->count[i];
    into->n += from->n;
    if (from->max > into->max)
        into->max = from->max;
}
