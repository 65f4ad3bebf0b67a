/* bindings.h - the one curated header bindgen reads for the Rust side. */
#include "molt.h"
#include "protocol.h"
#include "storage.h"
#include "transport.h"
