/*
 * common.c: error texts and the version, shared by every module.
 *
 * The texts are what an operator reads in a log line next to a drop
 * counter, so they name the defect in the packet, not the code path.
 */
#include <string.h>

#include "aoip/common.h"

const char *aoip_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case AOIP_ERTP_SHORT:
        return "RTP packet shorter than its fixed header";
    case AOIP_ERTP_VERSION:
        return "RTP version is not 2";
    case AOIP_ERTP_CSRC:
        return "RTP CSRC list runs past the packet";
    case AOIP_ERTP_EXTENSION:
        return "RTP header extension runs past the packet";
    case AOIP_ERTP_PADDING:
        return "RTP padding count is invalid";
    case AOIP_ERTCP_SHORT:
        return "RTCP packet shorter than its header";
    case AOIP_ERTCP_VERSION:
        return "RTCP version is not 2";
    case AOIP_ERTCP_LENGTH:
        return "RTCP length field runs past the compound packet";
    case AOIP_ERTCP_FIRST:
        return "RTCP compound packet does not start with SR or RR";
    case AOIP_ERTCP_PADDING:
        return "RTCP padding is invalid or not on the last packet";
    case AOIP_ERTCP_COUNT:
        return "RTCP report count does not fit the packet length";
    case AOIP_ERTCP_SDES:
        return "RTCP SDES item runs past its packet";
    case AOIP_ERTCP_BYE:
        return "RTCP BYE reason runs past its packet";
    case AOIP_ESDP_TOO_LONG:
        return "SDP longer than 64 KiB";
    case AOIP_ESDP_LINE:
        return "SDP line is not of the form x=value";
    case AOIP_ESDP_VERSION:
        return "SDP does not start with a single v=0";
    case AOIP_ESDP_CONNECTION:
        return "SDP connection line (c=) malformed or missing";
    case AOIP_ESDP_ADDRESS:
        return "SDP connection address is not a numeric IPv4 or IPv6 address";
    case AOIP_ESDP_MEDIA:
        return "SDP has no usable m=audio line (port, RTP/AVP, payload types)";
    case AOIP_ESDP_RTPMAP:
        return "SDP rtpmap malformed or missing for the payload type";
    case AOIP_ESDP_PTIME:
        return "SDP packet time (ptime, framecount) malformed or contradictory";
    case AOIP_ESDP_DUPLICATE:
        return "SDP repeats a line that may appear once";
    case AOIP_ESDP_FIELD_TOO_LONG:
        return "SDP session name or encoding longer than aoip stores";
    case AOIP_ETXT_TRUNCATED:
        return "TXT record string runs past the record";
    case AOIP_ETXT_NO_VERSION:
        return "TXT record has no protocol version (v=)";
    case AOIP_ETXT_VERSION:
        return "TXT record announces another protocol version than 1";
    case AOIP_ETXT_NO_ID:
        return "TXT record has no node id (id=)";
    case AOIP_ETXT_ID:
        return "TXT record node id is not 16 lowercase hex digits";
    case AOIP_ETXT_SAMPLE_RATE:
        return "TXT record sample rate (sr=) is not a number in 8000..192000";
    case AOIP_ETXT_COUNT:
        return "TXT record channel count (tx=, rx=) is not a number in 0..65535";
    case AOIP_ESEAL_SHORT:
        return "sealed packet shorter than its header, key id, ROC and tag";
    case AOIP_ESEAL_KEY:
        return "sealed packet under a key id the receiver does not hold";
    case AOIP_ESEAL_SSRC:
        return "sealed packet from another SSRC than the flow's";
    case AOIP_ESEAL_REPLAY:
        return "sealed packet replayed or older than the replay window";
    case AOIP_ESEAL_AUTH:
        return "sealed packet fails authentication";
    case AOIP_ECHAN_NOT_AOIP:
        return "the peer does not speak the aoip peer channel (no AOIPSEC1 HELLO)";
    case AOIP_ECHAN_SECRET:
        return "the peer does not hold this network's secret (HELLO tag wrong)";
    case AOIP_ECHAN_AUTH:
        return "the peer failed to prove its identity (AUTH missing, malformed or badly signed)";
    case AOIP_ECHAN_RECORD:
        return "sealed record from the peer does not open (tampered, replayed or reordered)";
    case AOIP_ECHAN_SIZE:
        return "sealed record from the peer has a length out of range";
    case AOIP_ECHAN_STATE:
        return "the peer channel used in the wrong state";
    default:
        break;
    }
    if (err < 0 && err > AOIP_EBASE)
        return strerror(-err);
    return "unknown error";
}

const char *aoip_version(void)
{
    return AOIP_VERSION_STRING;
}
