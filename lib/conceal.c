/* conceal.c: written in this change */
