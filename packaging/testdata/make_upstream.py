#!/usr/bin/env python3
"""Makes upstream.tar.gz, a tarball laid out the way insights-analytics-collector writes one
(Python tarfile, PAX format, gzip level 9; JSON added from memory with mtime = gather_until as a
float, CSV added from disk with the file's own mode and mtime; status CSV with the csv module).
TestReadTarballUpstream reads it. Recipe: `cd packaging/testdata && python3 make_upstream.py`."""
import csv
import datetime
import io
import json
import os
import tarfile
import tempfile

utc = datetime.timezone.utc
until = datetime.datetime(2024, 6, 30, tzinfo=utc)
started = datetime.datetime(2024, 6, 30, 0, 0, 1, 531620, tzinfo=utc)
finished = started + datetime.timedelta(seconds=3)

with tempfile.TemporaryDirectory() as stage:
    csv_path = os.path.join(stage, "events_table.csv_split3")
    with open(csv_path, "w") as f:
        f.write("Col1,Col2\naaaa,bbbb\n")
    os.utime(csv_path, (until.timestamp(), until.timestamp()))

    status = io.StringIO(newline="")
    fields = ["collection_start_timestamp", "since", "until", "file_name", "status", "elapsed"]
    w = csv.DictWriter(status, delimiter=",", fieldnames=fields)
    w.writeheader()
    w.writerow(dict(zip(fields, [started, None, until, "config.json", "ok", (finished - started).seconds])))
    w.writerow(dict(zip(fields, [started, until - datetime.timedelta(days=1), until, "events_table.csv", "ok", 0])))

    manifest = {"events_table.csv": "1.0", "config.json": "1.0", "data_collection_status.csv": "1.0"}

    def add_bytes(tar, name, data):
        info = tarfile.TarInfo("./" + name)
        info.size = len(data)
        info.mtime = until.timestamp()
        tar.addfile(info, fileobj=io.BytesIO(data))

    with tarfile.open("upstream.tar.gz", "w:gz", compresslevel=9) as tar:
        tar.add(csv_path, arcname="./events_table.csv")
        add_bytes(tar, "config.json", json.dumps({"install_uuid": "00000000"}).encode())
        add_bytes(tar, "data_collection_status.csv", status.getvalue().encode())
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
