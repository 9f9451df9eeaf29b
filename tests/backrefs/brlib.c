/* brlib.c - a library loaded with dlopen() by graphs.c: its global holds a block. */
void *brlib_holder;

void brlib_hold(void *p);

void brlib_hold(void *p)
{
    brlib_holder = p;
}
