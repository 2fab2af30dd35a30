/* fuzz_core.c: fuzz target: the input is a core file; open it, walk its heap, write both reports. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../analyzer/analyzer.h"

/*
 * The whole production path, as `heapscope analyze --json` runs it: the
 * core reader (headers, notes, PT_LOAD map), the module loader (paths and
 * build-ids come from the fuzzed notes and memory; the files are the real
 * ones on this machine, opened read-only), allocator detection and the
 * walker, the report builder and both writers. The bytes go through a
 * memfd so that the reader mmaps them exactly as it mmaps a core on disk.
 *
 * Properties checked beyond "no crash": an error is one non-empty line
 * (the CLI prints it as is), and a report can always be written.
 */

static int write_all(int fd, const uint8_t *data, size_t size)
{
	while (size) {
		ssize_t n = write(fd, data, size);
		if (n <= 0)
			return -1;
		data += n;
		size -= (size_t)n;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_core", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, size) != 0) {
		perror("fuzz_core: memfd");
		abort();
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	/* No separate debug info: the result must not depend on which -dbg
	 * packages this machine has, and a fuzz run must stay fast. */
	struct hs_analyze_options opts = { .no_debuginfo = true };
	struct hs_analysis *a = NULL;
	struct hs_error *err = hs_analysis_run(path, &opts, &a);
	if (err) {
		if (!err->message || !err->message[0] ||
		    strchr(err->message, '\n')) {
			fprintf(stderr, "fuzz_core: error is not one line: '%s'\n",
				err->message ? err->message : "(null)");
			abort();
		}
		hs_error_destroy(err);
		close(fd);
		return 0;
	}

	FILE *null = fopen("/dev/null", "w");
	if (!null)
		abort();
	err = hs_report_write_json(&a->report, null, "/dev/null");
	if (!err) {
		struct hs_text_options topts = { .top = 10 };
		err = hs_report_write_text(&a->report, null, &topts, "/dev/null");
	}
	fclose(null);
	if (err && err != HS_ENOMEM) {
		fprintf(stderr, "fuzz_core: writing the report failed: %s\n",
			err->message);
		abort();
	}
	hs_error_destroy(err);
	hs_analysis_destroy(a);
	close(fd);
	return 0;
}
