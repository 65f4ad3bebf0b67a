# Sanitizers: `make asan` (ASan+UBSan build of the C-only server, suites
# against it, leak check at exit) and `make valgrind` (memcheck on the mixed
# binary, slab and seg). See scripts/hardening/.

ASAN_BIN   := target/asan/molt-c
# clang when present: its UBSan honours log_path (GCC's writes to stderr).
ASAN_CC    ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo $(CC))
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: asan asan-build valgrind

asan-build: $(ASAN_BIN)
$(ASAN_BIN): $(C_SOURCES) $(C_HEADERS) $(CFLAGS_FILE)
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(CORE_CFLAGS) $(ASAN_FLAGS) -o $@ $(C_SOURCES) -lpthread

asan: deps test-deps build $(ASAN_BIN)
	@CC="$(ASAN_CC)" sh scripts/hardening/asan.sh $(ASAN_BIN)

valgrind: deps test-deps build
	@sh scripts/hardening/valgrind.sh
