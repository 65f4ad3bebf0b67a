/* molt.h - the C core's entry point, called by molt-c's main() and by the
 * mixed binary's Rust main. Read by bindgen. */
#ifndef MOLT_H
#define MOLT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Parse argv like memcached, run the server until SIGINT/SIGTERM, return the
 * process exit status. */
int molt_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
