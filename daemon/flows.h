/*
 * flows.h: what the control thread keeps about each flow beside what the
 * media thread needs: who is at the other end, which channels it carries,
 * and what RTCP has said about it.
 */
#ifndef AOIPD_FLOWS_H
#define AOIPD_FLOWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* How long a replaced flow goes on beside its successor: the receiver
 * switches as soon as the new one plays (a latency and a network delay
 * after it started), so this only has to outlast the longest of those. */
#define FLOWS_RETIRE_MS 3000

/* Seconds from 1900 (NTP's epoch) to 1970 (Unix's). */
#define FLOWS_NTP_UNIX_OFFSET 2208988800LL

struct flow_meta {
    char peer_id[17];   /* "" for plain RTP */
    char peer_name[96]; /* the peer's name, or "rtp:ADDRESS:PORT" */
    json_t *channels;   /* "NODE/NAME" strings, in flow order */
    uint32_t packet_us;
    int64_t retire_at_ms; /* replaced: goes at this time (monotonic ms); 0: live */

    /* rx: the sender's last SR, for latency and for the LSR/DLSR of our RR */
    bool have_sr;
    uint64_t sr_ntp;
    uint32_t sr_rtp;
    int64_t sr_arrival_ns; /* monotonic */
    uint64_t expected_prior, received_prior;

    /* tx: what the receiver's last RR said */
    bool have_rr;
    uint64_t remote_lost;
    double remote_jitter; /* frames */
    double rtt_ms;
    bool have_latency;
    double remote_latency_ms;
};

#endif
