/*
 * t_model.h - lookups the model's unit tests share.
 */
#ifndef T_MODEL_H
#define T_MODEL_H

#include <string.h>

#include "model.h"

/* The id of the site whose function is fn, or MODEL_NONE. */
static inline uint32_t site_named(const struct model *m, const char *fn)
{
    for (uint32_t i = 0; i < model_site_count(m); i++)
        if (!strcmp(model_site(m, i)->function, fn))
            return i;
    return MODEL_NONE;
}

#endif
