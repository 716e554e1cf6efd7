/*
 * notify.h: telling systemd how the node is doing (sd_notify(3)): READY
 * once it serves, a STATUS line, WATCHDOG pings from the loop (so a stuck
 * loop is noticed and restarted), STOPPING on the way out. Outside systemd
 * each call does nothing.
 */
#ifndef AOIPD_NOTIFY_H
#define AOIPD_NOTIFY_H

void notify_ready(const char *status);
void notify_status(const char *status);
void notify_watchdog(void);
void notify_stopping(void);

#endif
