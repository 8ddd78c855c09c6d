/* Wall-clock milliseconds (what clients see) and monotonic microseconds
 * (what the server measures durations with). */
#ifndef PZ_CLOCK_H
#define PZ_CLOCK_H

#include <stdint.h>

uint64_t pz_wall_ms(void);
uint64_t pz_mono_us(void);

#endif
