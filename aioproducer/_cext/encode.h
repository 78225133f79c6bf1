/*
 * aioproducer/_cext/encode.h: what fastsend.c, _speedups.pyx and _protocol/_crecords.pyx share:
 * Java's murmur2 and the encoding of a record without headers (the v2 record format, zigzag
 * varints).
 */
#ifndef AIOPRODUCER_ENCODE_H
#define AIOPRODUCER_ENCODE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- Java's Utils.murmur2 (seed 0x9747b28c) ---------------------------------------------- */

static inline int32_t
murmur2(const unsigned char *data, Py_ssize_t length)
{
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28cU ^ (uint32_t)length;
    Py_ssize_t words = length / 4;
    for (Py_ssize_t i = 0; i < words; i++) {
        const unsigned char *p = data + 4 * i;
        uint32_t k = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                     ((uint32_t)p[3] << 24);
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    const unsigned char *tail = data + 4 * words;
    switch (length & 3) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

/* Lengthen the bytearray ``buffer`` (``used`` bytes long) by ``size`` bytes. When its
   allocation must grow, it at least doubles: bytearray grows by an eighth, or to the exact size
   asked when that is more, so appending 1 KiB records one by one would move a 16 KiB batch
   to a new allocation at nearly every record. Shortening it again to the length wanted keeps
   the allocation (bytearray only gives memory back below half of it). */
static inline int
extend_bytearray(PyObject *buffer, Py_ssize_t used, Py_ssize_t size)
{
    Py_ssize_t wanted = used + size;
    if (wanted >= ((PyByteArrayObject *)buffer)->ob_alloc && wanted < 2 * used &&
        PyByteArray_Resize(buffer, 2 * used) < 0) {
        return -1;
    }
    return PyByteArray_Resize(buffer, wanted);
}

static inline int
varint_size(int64_t value)
{
    uint64_t zigzag = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    int size = 1;
    while (zigzag > 0x7F) {
        zigzag >>= 7;
        size++;
    }
    return size;
}

static inline char *
put_varint(char *out, int64_t value)
{
    uint64_t zigzag = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    while (zigzag > 0x7F) {
        *out++ = (char)((zigzag & 0x7F) | 0x80);
        zigzag >>= 7;
    }
    *out++ = (char)zigzag;
    return out;
}

static inline int64_t
body_size(int timestamp_size, int64_t offset_delta, PyObject *key, PyObject *value)
{
    int64_t size = 1 + timestamp_size + varint_size(offset_delta) + 1; /* attributes, headers */
    if (key == Py_None) {
        size += 1;
    } else {
        Py_ssize_t length = PyBytes_GET_SIZE(key);
        size += varint_size(length) + length;
    }
    if (value == Py_None) {
        size += 1;
    } else {
        Py_ssize_t length = PyBytes_GET_SIZE(value);
        size += varint_size(length) + length;
    }
    return size;
}

static inline char *
put_bytes(char *out, PyObject *data)
{
    if (data == Py_None) {
        *out++ = 1; /* varint -1 */
        return out;
    }
    Py_ssize_t length = PyBytes_GET_SIZE(data);
    out = put_varint(out, length);
    memcpy(out, PyBytes_AS_STRING(data), (size_t)length);
    return out + length;
}

/* One record without headers: its length (``body``), attributes, deltas, key and value. */
static inline char *
put_record(char *out, int64_t body, int64_t timestamp_delta, int64_t offset_delta, PyObject *key,
           PyObject *value)
{
    out = put_varint(out, body);
    *out++ = 0; /* attributes */
    out = put_varint(out, timestamp_delta);
    out = put_varint(out, offset_delta);
    out = put_bytes(out, key);
    out = put_bytes(out, value);
    *out++ = 0; /* no headers */
    return out;
}

#endif /* AIOPRODUCER_ENCODE_H */
