/* mp_writer.c - the out-of-line (cold) paths of the writer; the hot
 * functions are static inline in klaw/mp_writer.h. */
#include "klaw/mp_writer.h"

uint8_t *klaw_mp_writer_overflow_(klaw_mp_writer *w, size_t n)
{
    /* Keep counting so needed() tells the size the whole value takes; the
     * buffer is not touched again. */
    if (w->status == KLAW_OK)
        w->status = KLAW_TOOBIG;
    if (n > SIZE_MAX - w->pos)
        w->pos = SIZE_MAX;
    else
        w->pos += n;
    return NULL;
}

void klaw_mp_writer_inval_(klaw_mp_writer *w)
{
    if (w->status == KLAW_OK)
        w->status = KLAW_INVAL;
}
