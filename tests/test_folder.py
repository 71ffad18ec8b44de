"""Owned folders and atomic writes: a user's files are never overwritten, removed or mixed into."""

import os
import socket
import subprocess
import sys

import pytest

from tasksuite.cli import main
from tasksuite.core.errors import IntegrityError, OutputError
from tasksuite.core.folder import LOCK, MARKER, check_folder, claim_folder
from tasksuite.core.io import atomic_write_text, parse_json, read_json


def test_a_new_folder_is_marked_and_reopened_only_as_its_kind(tmp_path):
    with claim_folder(tmp_path / "run", "results") as folder:
        assert folder.created and (tmp_path / "run" / MARKER).is_file()
        assert (tmp_path / "run" / LOCK).read_text() == f"{os.getpid()}\n"
    with claim_folder(tmp_path / "run", "results") as again:
        assert not again.created
    with pytest.raises(OutputError, match="is a results folder, not a training folder"):
        claim_folder(tmp_path / "run", "training")
    assert check_folder(tmp_path / "run", "results") == tmp_path / "run"
    with pytest.raises(OutputError, match="not a training folder: it is a results folder"):
        check_folder(tmp_path / "run", "training")


def test_a_users_non_empty_folder_is_refused_untouched(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / ".keep.tmp").write_text("mine")
    (tmp_path / "notes.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(OutputError, match=r"out='.*' is a folder tasksuite did not create and it is not empty"):
        claim_folder(tmp_path, "results")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # not even a lock file was added


def test_an_empty_folder_or_one_with_only_logs_is_claimed(tmp_path):
    (tmp_path / "empty").mkdir()
    claim_folder(tmp_path / "empty", "results").release()
    (tmp_path / "logged").mkdir()
    (tmp_path / "logged" / "train.log").write_text("progress")  # as tasksuite validate opens one first
    claim_folder(tmp_path / "logged", "training").release()


@pytest.mark.parametrize("path", ["", "file"])
def test_an_empty_path_or_a_file_is_not_a_folder(tmp_path, path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"empty|not a folder"):
        claim_folder(str(tmp_path / path) if path else "", "results")


def test_a_second_writer_is_refused_with_the_first_ones_pid(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tasksuite.core.folder import claim_folder; f = claim_folder(sys.argv[1], 'results'); "
            "print('held', flush=True); sys.stdin.read()",
            str(tmp_path / "run"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(OutputError, match=rf"being written by another tasksuite process \(pid {holder.pid}\)"):
            claim_folder(tmp_path / "run", "results")
    finally:
        holder.kill()  # SIGKILL: the kernel drops the lock with the process
        holder.wait()
    claim_folder(tmp_path / "run", "results").release()


def test_one_process_cannot_claim_a_folder_twice_until_it_releases_it(tmp_path):
    first = claim_folder(tmp_path, "results")
    with pytest.raises(OutputError, match=f"pid {os.getpid()}"):
        claim_folder(tmp_path, "results")
    first.release()
    assert not first.held
    claim_folder(tmp_path, "results").release()


def test_a_corrupt_marker_is_an_error_not_a_guess(tmp_path):
    (tmp_path / MARKER).write_text('{"format": "other"}')
    with pytest.raises(IntegrityError, match="not a tasksuite folder marker"):
        claim_folder(tmp_path, "results")


# ---------------------------------------------------------------------- atomic writes


def test_atomic_writes_replace_regular_files_only(tmp_path):
    target = tmp_path / "manifest.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "real").write_text("kept")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "dir").mkdir()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(tmp_path / "sock"))
    for name, kind in [("fifo", "a FIFO"), ("link", "a symbolic link"), ("dir", "a directory"), ("sock", "a socket")]:
        with pytest.raises(OutputError, match=f"is {kind}; tasksuite only writes regular files"):
            atomic_write_text(tmp_path / name, "x")
    listener.close()
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "fifo", "link", "manifest.json", "real", "sock"]
    with pytest.raises(OutputError, match="empty"):
        atomic_write_text("", "x")


def test_a_character_device_is_refused():
    with pytest.raises(OutputError, match="is a character device"):
        atomic_write_text(os.devnull, "x")
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": NaN}', "NaN is not a number tasksuite writes"),
        (b'{"a": -Infinity}', "-Infinity is not a number"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_reading_json_back_refuses_what_tasksuite_never_writes(tmp_path, data, reason):
    (tmp_path / "f.json").write_bytes(data)
    with pytest.raises(IntegrityError, match=reason):
        read_json(tmp_path / "f.json")
    assert parse_json('{"a": 1.5}', "here") == {"a": 1.5}


def test_the_manifest_command_refuses_a_device_a_fifo_or_a_link(tmp_path, capsys):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere.json")
    for target, kind in [
        (os.devnull, "a character device"),
        (tmp_path / "fifo", "a FIFO"),
        (tmp_path / "link", "a symbolic link"),
    ]:
        assert main(["manifest", "navigation-meta", "--out", str(target)]) == 2
        assert f"is {kind}; tasksuite only writes regular files" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere.json").exists() and (tmp_path / "link").is_symlink()
