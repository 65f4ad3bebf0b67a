/* main_c.c - molt-c's main(): the C-only binary has no Rust entry point. */
#include "molt.h"

int main(int argc, char **argv) { return molt_main(argc, argv); }
