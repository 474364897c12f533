/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_notify.h - the service manager's readiness protocol (sd_notify(3)),
 * spoken directly: one datagram to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, no libsystemd.
 */
#ifndef MIGRATE_MIG_NOTIFY_H
#define MIGRATE_MIG_NOTIFY_H

/* Send state ("READY=1", "RELOADING=1\nMONOTONIC_USEC=...", ...) to the
 * service manager.  0 when sent, 1 when no manager listens ($NOTIFY_SOCKET
 * unset), -errno on failure (an invalid $NOTIFY_SOCKET is -EINVAL). */
int mig_notify(const char *state);
/* mig_notify("RELOADING=1") with the MONOTONIC_USEC= that systemd wants
 * alongside it. */
int mig_notify_reloading(void);

#endif
