/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One record of pushd's spool (docs/fleet.md, "The spool"): a fixed header
 * and the payload, little-endian:
 *
 *   u32 magic "RXP1" | u32 payload length | u64 seq | u32 CRC32 | payload
 *
 * The CRC covers the length, the seq and the payload, so a record whose
 * write was cut short by a crash, or whose bytes rotted, is never taken
 * for a sample. Pure: bytes in, record out. */

#define SPOOL_RECORD_MAGIC UINT32_C(0x31505852)
#define SPOOL_RECORD_HEADER 20
/* A sample is a few KiB; anything near this is not one. */
#define SPOOL_RECORD_MAX (1024 * 1024)

struct spool_record {
        uint64_t seq;
        const char *payload; /* points into the buffer parsed */
        size_t len;
};

/* Parse the record at the start of buf. Returns the bytes it takes (> 0)
 * with *ret filled; 0 when buf holds only the start of one (a torn tail
 * when nothing follows); -EBADMSG when the bytes are not a record (bad
 * magic, length or CRC). */
ssize_t spool_record_parse(const void *buf, size_t len, struct spool_record *ret);

/* Where the next whole, valid record starts after a corrupt one: an offset
 * > 0 into buf, or len when none does. */
size_t spool_record_resync(const void *buf, size_t len);

/* Write the header for payload into hdr. */
void spool_record_header(uint64_t seq, const void *payload, size_t len, unsigned char hdr[static SPOOL_RECORD_HEADER]);

/* The spool's position file: the stream its records belong to, the seq up
 * to which every record is acknowledged or dropped, and how many were
 * dropped. Text, "key=value" lines, replaced atomically on every change. */
#define SPOOL_STREAM_MAX 64

struct spool_position {
        char stream[SPOOL_STREAM_MAX];
        uint64_t done;
        uint64_t dropped;
};

/* -EINVAL unless every key is there once, known and well formed. */
int spool_position_parse(const char *text, struct spool_position *ret);
/* Returns the length written (< size), or -ENOBUFS. */
int spool_position_format(const struct spool_position *p, char *buf, size_t size);
