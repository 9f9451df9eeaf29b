/*
 * scanpy_layout.h - one CPython version's object layout, as scanpy.c's table
 * holds it; private to scanpy.c and scanpydeque.c.
 *
 * Invariant: every field is a byte offset (or a size) in the CPython
 * version range [min_version, max_version] of its row, read from that
 * version's headers; nothing here is guessed at run time.
 */
#ifndef HEAPLINE_SCANPY_LAYOUT_H
#define HEAPLINE_SCANPY_LAYOUT_H

#include <stdint.h>

/* One CPython version's object layout (byte offsets). */
struct scanpy_layout {
    uint32_t min_version, max_version; /* Py_Version range, inclusive */
    uint16_t ob_type;                  /* PyObject.ob_type */
    uint16_t var_size;                 /* PyVarObject.ob_size */
    uint16_t gc_head;                  /* sizeof(PyGC_Head), before a GC object */
    uint16_t managed_pre;              /* values + dict pointers before the GC head */
    uint8_t values_prefix;             /* values arrays have new_values()'s prefix */
    uint64_t tpflag_managed_dict, tpflag_gc, tpflag_ready, tpflag_type_subclass;
    uint16_t tp_name, tp_basicsize, tp_flags, tp_base, tp_dict, tp_bases, tp_mro;
    uint16_t ht_cached_keys;
    uint16_t list_items, tuple_items;
    uint16_t dict_keys, dict_values;
    uint16_t dk_log2_index_bytes, dk_kind, dk_nentries, dk_indices;
    uint16_t module_dict, module_name;
    uint16_t cell_ref;
    uint16_t func_globals, func_closure; /* the function's other slots: func_slots */
    uint16_t bytearray_bytes, bytearray_start;
    uint16_t str_length, str_state, str_ascii_data, str_compact_data;
    uint16_t long_digits;
    /* collections.deque: its object's fields; its blocks are leftlink, data[deque_blocklen],
     * rightlink */
    uint16_t deque_basic, deque_leftblock, deque_rightblock, deque_leftindex, deque_rightindex;
    uint16_t deque_numfree, deque_freeblocks, deque_maxfree, deque_blocklen;
    /* live frames: _PyRuntime -> interpreter -> thread states -> frames */
    uint16_t rt_interp_head, interp_threads_head, ts_next, ts_cframe, ts_native_tid;
    uint16_t cframe_current, fr_code, fr_previous, fr_localsplus;
    uint16_t co_nlocalsplus, co_localsplusnames, co_qualname;
};

#endif
