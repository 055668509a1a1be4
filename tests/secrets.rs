//! Secrets on the controller, through the real binary and without a lab: a password the playbook
//! takes from the environment (`{ env: NAME }`) reaches no program rdplay starts.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// The admin password, as the environment gives it to rdplay.
const PASSWORD: &str = "Env-Only-4417-Kq!";
/// The variable the playbook names for it.
const VARIABLE: &str = "RDPLAY_TEST_ADMIN_PASSWORD";
/// Another variable, set the same way: every child must see it, so that the password's absence means
/// something.
const MARKER: &str = "RDPLAY_TEST_INHERITED_MARKER";

/// Writes an executable shell script.
fn script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `rdplay run` with the admin password in the environment, `ssh-keygen` and `ssh` replaced by
/// stand-ins that write their environment to a file: rdplay makes its key pair with `ssh-keygen`
/// and checks the playbook's key exchange methods with `ssh -Q kex`, then scans an address whose
/// port is closed (so it reads the password, the range holding a PC never met).
#[test]
fn a_password_from_the_environment_reaches_no_program_rdplay_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, dumps) = (dir.path().join("bin"), dir.path().join("dumps"));
    std::fs::create_dir(&bin).unwrap();
    std::fs::create_dir(&dumps).unwrap();
    let dumps_text = dumps.display();
    script(
        &bin.join("ssh-keygen"),
        &format!(
            "#!/bin/sh\nenv > {dumps_text}/ssh-keygen.$$\n\
             while [ $# -gt 0 ]; do [ \"$1\" = -f ] && key=$2; shift; done\n\
             echo 'not a key' > \"$key\"\n\
             echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl rdplay@test' > \"$key.pub\"\n"
        ),
    );
    script(
        &bin.join("ssh"),
        &format!(
            "#!/bin/sh\nenv > {dumps_text}/ssh.$$\n\
             [ \"$1 $2\" = '-Q kex' ] && {{ echo curve25519-sha256; exit 0; }}\nexit 255\n"
        ),
    );
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let playbook = dir.path().join("renew.yml");
    std::fs::write(
        &playbook,
        format!(
            "site: SS\ntarget:\n  network: 127.0.0.0/24\n  ranges: 1\n  port: {port}\n\
             exchange:\n  admin_user: tech\n  password: {{ env: {VARIABLE} }}\n\
             connection:\n  kex_algorithms: [curve25519-sha256]\n\
             state_dir: state\noutput:\n  dir: output\n"
        ),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rdplay"))
        .args(["run", playbook.to_str().unwrap()])
        .env("PATH", path)
        .env(VARIABLE, PASSWORD)
        .env(MARKER, "inherited")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let mut started = Vec::new();
    for entry in std::fs::read_dir(&dumps).unwrap() {
        let path = entry.unwrap().path();
        let env = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            env.contains(&format!("{MARKER}=inherited")),
            "{name} did not inherit rdplay's environment:\n{env}"
        );
        assert!(
            !env.contains(PASSWORD) && !env.contains(VARIABLE),
            "{name} was given the password:\n{env}"
        );
        started.push(name.split('.').next().unwrap_or_default().to_owned());
    }
    started.sort();
    assert_eq!(started, ["ssh", "ssh-keygen"], "{stderr}");
}
