/*
 * notify.c: sd_notify through libsystemd, which knows the protocol's
 * corners (abstract socket names, credentials) better than we would.
 */
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "notify.h"

void notify_ready(const char *status)
{
    sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_status(const char *status)
{
    sd_notifyf(0, "STATUS=%s", status);
}

void notify_watchdog(void)
{
    sd_notify(0, "WATCHDOG=1");
}

void notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}
