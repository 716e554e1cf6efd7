/* fuzz_sdp.c: written in this change */
