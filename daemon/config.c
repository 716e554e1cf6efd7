/* config.c: written in this change */
