/* resample.c: written in this change */
