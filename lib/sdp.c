/* sdp.c: written in this change */
