/*
 * klaw/klaw.h - the whole public API of klaw. Include this one header.
 */
#ifndef KLAW_H
#define KLAW_H

#include "klaw/version.h"
#include "klaw/status.h"
#include "klaw/mp_writer.h"
#include "klaw/mp_reader.h"
#include "klaw/json.h"
#include "klaw/str.h"
#include "klaw/envelope.h"
#include "klaw/region.h"
#include "klaw/frame.h"
#include "klaw/mpmc.h"
#include "klaw/broadcast.h"
#include "klaw/watch.h"
#include "klaw/oneshot.h"
#include "klaw/select.h"
#include "klaw/registry.h"
#include "klaw/channel.h"
#include "klaw/arena.h"
#include "klaw/schema.h"
#include "klaw/records.h"

#endif /* KLAW_H */
