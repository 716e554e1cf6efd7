/* test_sdp.c: written in this change */
