# The real workload of the benchmarks: build the Lua library (every core and standard-library module,
# as the lua-src crate vendors them) from the sources that test/bench/fetch-sources.sh caches. make -f lua.mk SRC=<lua-x.y.z folder> OUT=<build folder> -j2
CC ?= gcc
CFLAGS := -O2 -std=gnu99 -DLUA_COMPAT_5_3 -DLUA_USE_LINUX
CORE := $(filter-out $(SRC)/lua.c $(SRC)/luac.c $(SRC)/onelua.c $(SRC)/ltests.c $(SRC)/print.c,$(wildcard $(SRC)/*.c))
OBJS := $(patsubst $(SRC)/%.c,$(OUT)/%.o,$(CORE))

all: $(OUT)/liblua.a

$(OUT)/%.o: $(SRC)/%.c
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/liblua.a: $(OBJS)
	ar rcs $@ $^
