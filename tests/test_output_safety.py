"""Outputs never replace what is not a regular file, never overwrite an input, and fail with one
line naming the path (previous file kept, no temporary left) when the OS refuses the write."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zipsift.cli import main
from zipsift.io import AtomicWriter, OutputError, iter_records, write_jsonl

QUICK = Path(__file__).parent / "data" / "quickstart"


def select(tmp_path, *extra, out="sel.jsonl"):
    return main(["select", "zipfit", "--target", str(QUICK / "targets.jsonl"), "--source", str(QUICK / "pool.jsonl"),
                 "--k", "3", "--out", str(out), *extra])


def leftovers(directory: Path):
    return sorted(p.name for p in directory.iterdir() if ".zipsift-tmp." in p.name or p.name.endswith(".tmp"))


# --- devices, fifos, directories, symlinks --------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_out_character_device_is_refused_and_the_device_is_kept(tmp_path, capsys):
    # our own node for /dev/null's device (1, 3): a test must never risk the real /dev/null
    null = tmp_path / "null.jsonl"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    assert select(tmp_path, out=null) == 1
    assert "null.jsonl: is a character device" in capsys.readouterr().err
    assert null.is_char_device()


def test_out_fifo_is_refused_and_kept(tmp_path, capsys):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    assert select(tmp_path, out=fifo) == 1
    assert "is a fifo" in capsys.readouterr().err
    assert fifo.is_fifo()


def test_out_directory_is_refused_with_one_line(tmp_path, capsys):
    (tmp_path / "d.jsonl").mkdir()
    assert select(tmp_path, out=tmp_path / "d.jsonl") == 1
    err = capsys.readouterr().err
    assert "d.jsonl: is a directory" in err and "Traceback" not in err
    assert (tmp_path / "d.jsonl").is_dir()


def test_out_symlink_writes_the_target_atomically_and_keeps_the_link(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    target = real_dir / "data.jsonl"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    assert select(tmp_path, out=link) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(list(iter_records(target))) == 3
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)  # the target's permissions are kept
    assert leftovers(real_dir) == [] and leftovers(tmp_path) == []


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "new.jsonl")
    write_jsonl(link, [{"text": "a"}])
    assert link.is_symlink() and (tmp_path / "new.jsonl").read_text() == '{"text": "a"}\n'


def test_out_dash_streams_to_stdout(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)  # were "-" taken as a file name, it would land here
    assert select(tmp_path, out="-") == 0
    lines = capfd.readouterr().out.splitlines()
    assert len(lines) == 3 and all("zipfit_score" in json.loads(line) for line in lines)
    assert not (tmp_path / "-").exists()


def test_empty_out_path_is_one_clear_error(tmp_path, capsys):
    assert select(tmp_path, out="") == 1
    assert "the output path is empty" in capsys.readouterr().err


def test_missing_parent_directory_is_one_clear_error(tmp_path, capsys):
    assert select(tmp_path, out=tmp_path / "nope" / "o.jsonl") == 1
    assert "does not exist; create it first" in capsys.readouterr().err


# --- an output that is an input or another output -------------------------------------------------

def test_out_equal_to_source_is_refused_before_any_work(tmp_path, capsys):
    pool = tmp_path / "pool.jsonl"
    pool.write_bytes((QUICK / "pool.jsonl").read_bytes())
    before = pool.read_bytes()
    code = main(["select", "zipfit", "--target", str(QUICK / "targets.jsonl"), "--source", str(pool),
                 "--k", "3", "--out", str(pool)])
    assert code == 1 and "is also an input" in capsys.readouterr().err
    assert pool.read_bytes() == before


@pytest.mark.parametrize("how", ["directory", "glob", "symlink", "dotdot"])
def test_out_naming_a_source_by_another_path_is_refused(tmp_path, capsys, how):
    data = tmp_path / "data"
    data.mkdir()
    pool = data / "pool.jsonl"
    pool.write_bytes((QUICK / "pool.jsonl").read_bytes())
    before = pool.read_bytes()
    source, out = {"directory": (data, pool), "glob": (f"{data}/*.jsonl", pool),
                   "symlink": (pool, tmp_path / "alias.jsonl"), "dotdot": (pool, data / ".." / "data" / "pool.jsonl")}[how]
    if how == "symlink":
        out.symlink_to(pool)
    code = main(["select", "dsir", "--target", str(QUICK / "targets.jsonl"), "--source", str(source),
                 "--k", "3", "--out", str(out)])
    assert code == 1 and "is also an input" in capsys.readouterr().err
    assert pool.read_bytes() == before


def test_out_equal_to_report_is_refused(tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    assert select(tmp_path, "--report", str(out), out=out) == 1
    assert "--out and --report are the same file" in capsys.readouterr().err
    assert not out.exists()


def test_augment_dataset_train_equal_to_test_is_refused(tmp_path, capsys):
    f = tmp_path / "t.jsonl"
    assert main(["augment", "dataset", "reversal", "--n", "2", "--train", str(f), "--test", str(f)]) == 1
    assert "are the same file" in capsys.readouterr().err


def test_eval_json_equal_to_a_selection_is_refused(tmp_path, capsys):
    sel = tmp_path / "sel.jsonl"
    sel.write_bytes((QUICK / "pool.jsonl").read_bytes())
    before = sel.read_bytes()
    code = main(["eval", "--heldout", str(QUICK / "targets.jsonl"), str(sel), "--json", str(sel)])
    assert code == 1 and "is also an input" in capsys.readouterr().err
    assert sel.read_bytes() == before


# --- OS errors, checks before the work, stale temporaries -----------------------------------------

def test_unwritable_report_directory_fails_before_the_selection_is_written(tmp_path, capsys):
    out = tmp_path / "sel.jsonl"
    assert select(tmp_path, "--report", str(tmp_path / "missing" / "r.json"), out=out) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()  # nothing was done


@pytest.fixture
def small_mount(tmp_path):
    """A 64 KiB tmpfs of our own (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    if shutil.which("mount") is None:
        pytest.skip("mount is not on PATH")
    point = tmp_path / "mnt"
    point.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], capture_output=True).returncode:
        pytest.skip("mount -t tmpfs is not permitted here")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_disk_full_is_one_line_keeps_the_old_file_and_leaves_no_temporary(small_mount, capsys):
    out = small_mount / "out.jsonl"
    out.write_text('{"text": "previous"}\n')
    big = small_mount.parent / "big.jsonl"
    big.write_text("".join(json.dumps({"text": f"record {i} " + "x" * 200}) + "\n" for i in range(2000)))
    code = main(["select", "zipfit", "--target", str(QUICK / "targets.jsonl"), "--source", str(big),
                 "--k", "2000", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{out}: writing failed: no space left on the device" in err and "Traceback" not in err
    assert out.read_text() == '{"text": "previous"}\n'
    assert leftovers(small_mount) == []


def test_read_only_file_system_is_refused_before_any_work(small_mount, tmp_path, capsys):
    out = small_mount / "out.jsonl"
    out.write_text("previous\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    assert select(tmp_path, out=out) == 1
    err = capsys.readouterr().err
    assert f"{out}: cannot write in {small_mount}: the file system is read-only" in err
    assert out.read_text() == "previous\n"


def test_writer_error_is_an_output_error_naming_the_path(small_mount):
    out = small_mount / "x.jsonl.zst"
    with pytest.raises(OutputError, match=r"x.jsonl.zst: writing failed: no space left"):
        write_jsonl(out, ({"text": os.urandom(64).hex()} for _ in range(5000)))
    assert not out.exists() and leftovers(small_mount) == []


WRITER = textwrap.dedent("""
    import sys, time
    from zipsift.io import AtomicWriter
    with AtomicWriter(sys.argv[1]) as out:
        out.write("partial\\n")
        out.flush()
        print("writing", flush=True)
        time.sleep(60)
""")


def test_temporary_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    out = tmp_path / "o.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        stale = leftovers(tmp_path)
        assert len(stale) == 1 and stale[0].startswith(f".o.jsonl.zipsift-tmp.{socket.gethostname()}.{proc.pid}.")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    # a temporary of a live process (ours) and one of another host are never touched
    live = tmp_path / f".o.jsonl.zipsift-tmp.{socket.gethostname()}.{os.getppid()}.0000abcd"
    other = tmp_path / f".o.jsonl.zipsift-tmp.some-other-host.{proc.pid}.0000abcd"
    live.write_text("x")
    other.write_text("x")
    write_jsonl(out, [{"text": "a"}])
    assert sorted(leftovers(tmp_path)) == sorted([live.name, other.name])
    assert out.read_text() == '{"text": "a"}\n'


def test_zst_output_carries_a_checksum(tmp_path):
    import zstandard

    write_jsonl(tmp_path / "o.jsonl.zst", [{"text": "a"}])
    params = zstandard.get_frame_parameters((tmp_path / "o.jsonl.zst").read_bytes())
    assert params.has_checksum


def test_atomic_writer_failure_inside_the_block_leaves_the_old_file(tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with AtomicWriter(out) as fh:
            fh.write("new\n")
            raise RuntimeError("boom")
    assert out.read_text() == "old\n" and leftovers(tmp_path) == []


# --- the helpers themselves -----------------------------------------------------------------------

def test_resolve_output_follows_links_and_refuses_what_is_not_a_file(tmp_path):
    from zipsift.atomic import resolve_output

    (tmp_path / "real.jsonl").write_text("")
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "real.jsonl")
    assert resolve_output(tmp_path / "a.jsonl") == tmp_path / "real.jsonl"  # a chain of links
    assert resolve_output(tmp_path / "new.jsonl") == tmp_path / "new.jsonl"
    with pytest.raises(OutputError, match="is a directory"):
        resolve_output(tmp_path)
    with pytest.raises(OutputError, match="empty"):
        resolve_output("")


def test_same_file_sees_through_links_dotdot_and_stdout_names(tmp_path):
    from zipsift.atomic import same_file

    (tmp_path / "f.jsonl").write_text("")
    (tmp_path / "l.jsonl").symlink_to(tmp_path / "f.jsonl")
    os.link(tmp_path / "f.jsonl", tmp_path / "h.jsonl")
    assert same_file(tmp_path / "f.jsonl", tmp_path / "l.jsonl")
    assert same_file(tmp_path / "f.jsonl", tmp_path / "h.jsonl")  # a hard link
    # x does not exist, but the writer resolves x/.. as the path says, and would write f.jsonl
    assert same_file(tmp_path / "x" / ".." / "f.jsonl", tmp_path / "f.jsonl")
    assert not same_file(tmp_path / "f.jsonl", tmp_path / "g.jsonl")
    assert same_file(tmp_path / "new.jsonl", tmp_path / "." / "new.jsonl")  # neither exists yet
    assert same_file("-", "/dev/stdout") and not same_file("-", tmp_path / "f.jsonl")


def test_check_output_leaves_nothing_behind(tmp_path):
    from zipsift.atomic import check_output

    check_output(tmp_path / "o.jsonl")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="does not exist"):
        check_output(tmp_path / "missing" / "o.jsonl")


def _fill(mount: Path) -> None:
    """Fill a small file system to the last byte."""
    fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:  # no space left: full
        pass
    finally:
        os.close(fd)


def test_a_report_that_fails_after_the_selection_says_the_selection_was_written(small_mount, tmp_path, capsys):
    out, report = tmp_path / "sel.jsonl", small_mount / "report.json"
    _fill(small_mount)
    assert select(tmp_path, "--report", str(report), out=out) == 1
    err = capsys.readouterr().err
    assert f"{report}: writing failed: no space left on the device" in err and "Traceback" not in err
    assert f"--out {out} was written before it and is complete; only the report is missing" in err, err
    assert len(out.read_text().splitlines()) == 3 and not report.exists()
    assert leftovers(small_mount) == []
