/* test_config.c: written in this change */
