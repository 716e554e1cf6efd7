/* clock.c: written in this change */
