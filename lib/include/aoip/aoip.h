/*
 * aoip.h: the whole public API of libaoip in one include.
 *
 * libaoip is the pure part of aoip: no threads, no sockets, no globals and
 * no clock of its own. Callers pass time and data in, so every module can be
 * unit-tested and simulated in virtual time.
 */
#ifndef AOIP_AOIP_H
#define AOIP_AOIP_H

#include "clock.h"
#include "common.h"
#include "conceal.h"
#include "jitter.h"
#include "latency.h"
#include "mixer.h"
#include "opus.h"
#include "control.h"
#include "pcm.h"
#include "peerchan.h"
#include "rateconv.h"
#include "resample.h"
#include "rtcp.h"
#include "rtp.h"
#include "sdp.h"
#include "seal.h"
#include "txt.h"

#endif
