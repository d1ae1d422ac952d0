//! Other local users: keyport started under `umask 000` (the worst a careless shell could
//! hand it) still keeps every file private, and its memory cannot be dumped or read through
//! `/proc` by anyone but root.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::spawn_logged;
use crate::common::{PASSPHRASE, PRIVATE_FILES, Server, bin};

/// `nobody`: when the tests run as root, keyport runs as this user, so that the owner of its
/// `/proc` files says something (for root, every owner is root).
const NOBODY: u32 = 65534;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `sh -c 'umask 000; exec PROGRAM ARGS…'`, as `uid` when the tests run as root.
fn under_umask_000(program: &str, args: &[&str], uid: Option<u32>) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    cmd
}

/// The value of one line of `/proc/<pid>/status` or `/proc/<pid>/limits`.
fn proc_line(pid: u32, file: &str, prefix: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /proc/{pid}/{file}"))
        .to_string()
}

#[test]
fn files_stay_private_and_memory_undumpable_under_umask_000() {
    let me = std::fs::metadata("/proc/self").unwrap().uid();
    let root = me == 0;
    let uid = root.then_some(NOBODY);
    let tmp = tempfile::tempdir().unwrap();
    if let Some(uid) = uid {
        std::os::unix::fs::chown(tmp.path(), Some(uid), Some(uid)).unwrap();
    }
    let dir = tmp.path().join("data");

    // The harness is not blind: the same wrapper makes a world-writable file.
    let probe = tmp.path().join("probe");
    let status = under_umask_000("touch", &[probe.to_str().unwrap()], uid)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&probe), 0o666, "umask 000 really reaches the child");

    let dir_arg = dir.to_str().unwrap();
    let mut cmd = under_umask_000(
        bin(),
        &["--data-dir", dir_arg, "serve", "--listen", "127.0.0.1:0"],
        uid,
    );
    cmd.env("KEYPORT_KDF_MS", "0")
        .env("KEYPORT_PASSPHRASE", PASSPHRASE)
        .env("KEYPORT_LOG", "info")
        .env_remove("KEYPORT_LISTEN");
    let server = spawn_logged(&dir, cmd).expect("keyport starts under umask 000");
    let pid = server.pid().unwrap();

    let checked = files_stay_private(&server, &dir);
    assert_eq!(
        proc_line(pid, "status", "Umask:"),
        "Umask:\t0077",
        "keyport replaced the inherited umask"
    );

    // Core dumps: RLIMIT_CORE is 0, soft and hard.
    let core = proc_line(pid, "limits", "Max core file size");
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], ["0", "0"], "{core}");

    let (own_uid, control_owner) = undumpable(pid, uid.unwrap_or(me), root);
    println!(
        "under umask 000 as uid {own_uid}: {} paths checked (dir 0700; db, -wal, -shm, admin.key, server.url 0600); Umask 0077; core limit 0/0; /proc/{pid}/mem owned by uid 0 (non-dumpable) vs uid {control_owner} for a dumpable control",
        checked
    );
}

/// Writes data and forces a WAL (a few connections), then checks the files' modes while
/// keyport runs. Returns how many paths were checked.
fn files_stay_private(server: &Server, dir: &Path) -> usize {
    let integration =
        server.integration(json!({"appName": "github", "authScheme": "BEARER_TOKEN"}));
    for i in 0..20 {
        server.create_connection(json!({"integrationId": integration["id"], "userUuid": format!("u{i}"), "data": {"token": format!("t{i}")}}));
    }
    let mut checked = vec![(dir.to_path_buf(), mode(dir), 0o700)];
    for name in PRIVATE_FILES {
        let path = dir.join(name);
        assert!(path.exists(), "{name} should exist while serving");
        checked.push((path.clone(), mode(&path), 0o600));
    }
    for (path, got, want) in &checked {
        assert_eq!(got, want, "{} is {got:o}", path.display());
    }
    assert!(
        std::fs::metadata(dir.join("keyport.db-wal")).unwrap().len() > 0,
        "the WAL holds the writes"
    );
    checked.len()
}

/// Non-dumpable, against a dumpable control process started the same way. Returns the
/// uid keyport runs as and the owner of the control process's `/proc/<pid>/mem`.
fn undumpable(pid: u32, own_uid: u32, root: bool) -> (u32, u32) {
    let uid = root.then_some(NOBODY);
    // Non-dumpable: the kernel makes the /proc/<pid>/ files of a process that is not
    // dumpable (prctl PR_SET_DUMPABLE 0) owned by root instead of the process's user
    // (fs/proc/base.c, task_dump_owner), so other users — and, through ptrace access
    // checks, same-user processes without CAP_SYS_PTRACE — cannot open its mem or environ.
    // A control process started the same way, which does not drop dumpability, keeps its
    // own user as owner.
    let owner = |pid: u32, file: &str| {
        std::fs::metadata(format!("/proc/{pid}/{file}"))
            .unwrap()
            .uid()
    };
    let mut control = under_umask_000("sleep", &["30"], uid).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let control_owner = owner(control.id(), "mem");
    let _ = control.kill();
    let _ = control.wait();
    for file in ["mem", "environ", "maps"] {
        assert_eq!(owner(pid, file), 0, "/proc/{pid}/{file} owner");
    }
    if root {
        assert_eq!(control_owner, NOBODY, "the control process is dumpable");
    } else {
        assert_eq!(control_owner, own_uid, "the control process is dumpable");
    }
    (own_uid, control_owner)
}
