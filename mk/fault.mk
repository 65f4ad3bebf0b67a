# The fault build: molt-c with the "faulty-slab" engine (storage/faulty.c,
# -DMOLT_FAULT_INJECT), which hands out one value in 1000 a byte short.
# tests/shadow.rs runs it as a shadow and requires exactly that many
# mismatches. Never shipped: molt-c and molt are built without the macro.

FAULT_BIN := target/c-fault/molt-c-fault

.PHONY: fault
fault: $(FAULT_BIN)
build: $(FAULT_BIN)
$(FAULT_BIN): $(C_SOURCES) $(C_HEADERS) $(CFLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -DMOLT_FAULT_INJECT -o $@ $(C_SOURCES) -lpthread
