/* test_control.c: written in this change */
