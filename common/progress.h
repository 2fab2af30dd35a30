/* progress.h: a progress line on stderr for long analyses: phase, bytes done, rate, ETA. */
#ifndef HS_PROGRESS_H
#define HS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

/*
 * A reporter for long work. Phases announce how many bytes (of the core's
 * memory) they will go through, workers add what they have done, from any
 * thread, and a reporter thread redraws one line on `out` four times a
 * second: the phase, bytes done of the total, the rate and an ETA. A NULL
 * reporter is valid everywhere and does nothing, which is what a disabled one
 * is: hs_progress_create returns NULL when `enabled` is false (or a thread
 * cannot be started: progress is a nicety, never a reason to fail).
 */
struct hs_progress;

struct hs_progress *hs_progress_create(FILE *out, bool enabled);
/* Stop the reporter and erase its line. Takes NULL. */
void hs_progress_destroy(struct hs_progress *p);
/* Start a phase of `total` bytes; `name` must be a string literal. */
void hs_progress_phase(struct hs_progress *p, const char *name, uint64_t total);
/* `bytes` more of the phase done (atomic). */
void hs_progress_add(struct hs_progress *p, uint64_t bytes);

#endif
