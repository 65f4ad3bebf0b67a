/* version.h - molt's version, and the one the protocol's `version` and
 * `stats` answer. */
#ifndef MOLT_VERSION_H
#define MOLT_VERSION_H

#define MOLT_VERSION "0.1.0"
/* What `version` answers: the memcached protocol level, then molt's own. */
#define MOLT_VERSION_REPLY "1.6.0-molt-" MOLT_VERSION

#endif
