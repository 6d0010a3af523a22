"""[telemetry] textfile_dir: *.prom files merged into /metrics as
node_exporter's textfile collector does (docs/telemetry-stream.md#textfile-directory)."""
import os
import re

from telemetry_support import PROM_LINE


def scrape(t):
    status, _, body = t.http("/metrics")
    assert status == 200
    return body


def check_exposition(body):
    """Every line is a comment, or a sample line: a half-merged file
    would break this."""
    for line in body.splitlines():
        assert line.startswith("#") or PROM_LINE.match(line), line


def start(start_telemetryd, d):
    return start_telemetryd(interval=60, env={"RESOLVIX_TELEMETRY_TEXTFILE_DIR": str(d)})


def test_good_files_are_merged_with_their_mtime(start_telemetryd, tmp_path):
    d = tmp_path / "textfile"
    d.mkdir()
    (d / "backup.prom").write_text(
        "# HELP backup_last_success_timestamp_seconds When the backup last worked.\n"
        "# TYPE backup_last_success_timestamp_seconds gauge\n"
        "backup_last_success_timestamp_seconds{job=\"nightly\"} 1.7e9\n")
    (d / "apt.prom").write_text('apt_upgrades_pending{origin="Debian"} 3')  # no final newline
    (d / "notes.txt").write_text("this is not read\n")
    os.utime(d / "apt.prom", (1700000000.25, 1700000000.25))
    t = start(start_telemetryd, d)
    body = scrape(t)
    check_exposition(body)
    assert 'backup_last_success_timestamp_seconds{job="nightly"} 1.7e9\n' in body
    assert 'apt_upgrades_pending{origin="Debian"} 3\n' in body
    assert "this is not read" not in body
    assert 'node_textfile_mtime_seconds{file="apt.prom"} 1700000000.250\n' in body
    assert re.search(r'^node_textfile_mtime_seconds\{file="backup.prom"\} \d+\.\d{3}$', body, re.M)
    assert "node_textfile_scrape_error 0\n" in body
    assert "resolvix_textfile_skipped_files 0\n" in body

    # A file written later shows at the next scrape, without a restart.
    (d / "late.prom").write_text("late_metric 42\n")
    assert "late_metric 42\n" in scrape(t)


def test_a_bad_file_is_skipped_whole_and_counted(start_telemetryd, tmp_path):
    d = tmp_path / "textfile"
    d.mkdir()
    (d / "good.prom").write_text("good_metric 1\n")
    # Valid first lines, then a broken one: none of it may appear.
    (d / "broken.prom").write_text("broken_first 1\nbroken_second{a=\"x\" 2\n")
    (d / "stamped.prom").write_text("stamped_metric 1 1700000000000\n")
    t = start(start_telemetryd, d)
    body = scrape(t)
    check_exposition(body)
    assert "good_metric 1\n" in body
    assert "broken_first" not in body and "stamped_metric" not in body
    assert 'node_textfile_mtime_seconds{file="good.prom"}' in body
    assert 'file="broken.prom"' not in body
    assert "node_textfile_scrape_error 1\n" in body
    assert "resolvix_textfile_skipped_files 2\n" in body
    log = t.log()
    assert "broken.prom" in log and "line 2" in log
    assert "stamped.prom" in log and "timestamp" in log

    # Fixed, it comes in; the error clears.
    (d / "broken.prom").write_text("broken_first 1\n")
    (d / "stamped.prom").unlink()
    body = scrape(t)
    assert "broken_first 1\n" in body and "node_textfile_scrape_error 0\n" in body


def test_bounds_on_files_and_bytes(start_telemetryd, tmp_path):
    d = tmp_path / "textfile"
    d.mkdir()
    for i in range(70):  # the bound is 64 files
        (d / f"f{i:03d}.prom").write_text(f"bounded_metric{{n=\"{i}\"}} {i}\n")
    (d / "zz-big.prom").write_text("big_metric 1\n" + "# padding\n" * 120000)  # over 1 MiB
    t = start(start_telemetryd, d)
    body = scrape(t)
    check_exposition(body)
    shown = re.findall(r'^bounded_metric\{n="(\d+)"\}', body, re.M)
    assert shown == [str(i) for i in range(64)]  # the first 64 by name
    assert "big_metric" not in body
    assert "node_textfile_scrape_error 1\n" in body
    assert "resolvix_textfile_skipped_files 7\n" in body  # 6 over the count, the big one


def test_too_large_file_alone(start_telemetryd, tmp_path):
    d = tmp_path / "textfile"
    d.mkdir()
    (d / "big.prom").write_text("big_metric 1\n" + "# padding\n" * 120000)
    (d / "small.prom").write_text("small_metric 1\n")
    t = start(start_telemetryd, d)
    body = scrape(t)
    assert "big_metric" not in body and "small_metric 1\n" in body
    assert "resolvix_textfile_skipped_files 1\n" in body


def test_missing_directory_is_an_error_not_a_failure(start_telemetryd, tmp_path):
    t = start(start_telemetryd, tmp_path / "absent")
    body = scrape(t)
    check_exposition(body)
    assert "node_textfile_scrape_error 1\n" in body
    assert "resolvix_build_info" in body


def test_off_by_default(start_telemetryd):
    body = scrape(start_telemetryd(interval=60))
    assert "node_textfile" not in body


def test_relative_dir_is_a_config_error(start_telemetryd, tmp_path):
    import subprocess
    from support import binary
    p = subprocess.run([binary("telemetryd/telemetryd"), "--check"], capture_output=True, text=True,
                       env={"RESOLVIX_TELEMETRY_TEXTFILE_DIR": "relative/dir", "PATH": os.environ["PATH"]}, timeout=10)
    assert p.returncode != 0
    assert "textfile_dir" in p.stderr
