/* fuzz_control.c: written in this change */
