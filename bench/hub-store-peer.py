#!/usr/bin/python3
"""The peer of bench/hub-store's ingest figure: what a plain Python service
would do with the same samples. Each sample becomes one row (node, stream,
seq, ts, the JSON text as is), deduplicated by a primary key on (node,
stream, seq), committed in batches with executemany, durably: SQLite in WAL
mode with synchronous=FULL, PostgreSQL with its defaults (fsync, synchronous
commit). Only executemany + commit are timed; the lines are read and their
fields taken out before.

    bench/hub-store-peer.py sqlite STATE_DIR FILE BATCH
    bench/hub-store-peer.py postgresql URL FILE BATCH

Prints one JSON object like hub-store-bench's."""
import json
import os
import sqlite3
import sys
import time

BASE_MS = 1704067200000
STEP_MS = 10000


def rows(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            s = json.loads(line)
            out.append((s["node_id"], "bench", s["seq"], BASE_MS + s["seq"] * STEP_MS, line))
    return out


def run(kind, where, path, batch):
    data = rows(path)
    if kind == "sqlite":
        db = sqlite3.connect(os.path.join(where, "peer.sqlite"), isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("CREATE TABLE samples (node TEXT, stream TEXT, seq INTEGER, ts INTEGER, body TEXT,"
                   " PRIMARY KEY (node, stream, seq))")
        sql = "INSERT OR IGNORE INTO samples VALUES (?, ?, ?, ?, ?)"

        def commit_batch(chunk):
            db.execute("BEGIN")
            db.executemany(sql, chunk)
            db.execute("COMMIT")

        size = lambda: os.path.getsize(os.path.join(where, "peer.sqlite")) + (
            os.path.getsize(os.path.join(where, "peer.sqlite-wal"))
            if os.path.exists(os.path.join(where, "peer.sqlite-wal")) else 0)
    else:
        import psycopg
        db = psycopg.connect(where)
        db.execute("CREATE TABLE samples (node text, stream text, seq bigint, ts bigint, body text,"
                   " PRIMARY KEY (node, stream, seq))")
        db.commit()
        sql = "INSERT INTO samples VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"

        def commit_batch(chunk):
            with db.cursor() as cur:
                cur.executemany(sql, chunk)
            db.commit()

        def size():
            return db.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    spent = 0.0
    for i in range(0, len(data), batch):
        t = time.monotonic()
        commit_batch(data[i:i + batch])
        spent += time.monotonic() - t
    print(json.dumps({"backend": kind, "samples": len(data), "seconds": round(spent, 3),
                      "samples_per_s": round(len(data) / spent),
                      "db_bytes_per_sample": round(size() / len(data))}))


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("sqlite", "postgresql"):
        sys.exit(__doc__)
    run(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
