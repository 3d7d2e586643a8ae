/* fuzz.h - the libFuzzer entry point shared by the fuzz targets and replay. */
#ifndef CFS_TESTS_FUZZ_FUZZ_H
#define CFS_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/*
 * One fuzz input.  Each tests/fuzz/fuzz_<target>.c defines it; libFuzzer
 * calls it under clang (`make fuzz`), tests/fuzz/replay.c calls it under the
 * normal compiler for every committed corpus file (`make check`).  A property
 * violation aborts; the return value is always 0.  @data is borrowed.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* CFS_TESTS_FUZZ_FUZZ_H */
