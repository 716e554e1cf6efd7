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
