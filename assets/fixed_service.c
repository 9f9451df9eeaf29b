/*
 * fixed_service.c - the leaky service with the fix of the seed: the instance map holds weak
 * references, and a processor removes its own entry when destroyed, so memory falls back after
 * each unload. Same source as leaky_service.c, built with FIXED.
 */
#define FIXED 1
#include "leaky_service.c"
