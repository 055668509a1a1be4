//! A throwaway PostgreSQL cluster for tests: Debian's `postgresql` binaries, `initdb` and `pg_ctl`
//! run as the unprivileged `postgres` user in a temporary directory, listening on a Unix socket
//! only (`listen_addresses = ''`). The role `rdplay` logs in with a password (scram-sha-256), as a
//! controller would; the `postgres` superuser, for the test's own checks, is trusted on the socket.
//!
//! ```ignore
//! let pg = PgCluster::start();
//! let yaml = format!("inventory: {}", pg.inventory_yaml());
//! pg.stop_immediate(); // the server dies as in a crash
//! pg.start_again();
//! ```
//! Dropping it stops the server and removes its directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where Debian's `postgresql` package puts the server's binaries (its version directory is found).
const PG_LIB: &str = "/usr/lib/postgresql";
/// The password of the `rdplay` role (a test value).
pub const PASSWORD: &str = "pg-test-password-7Qx";

/// A running throwaway cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir(PG_LIB)
        .unwrap_or_else(|e| {
            panic!("{PG_LIB}: {e}: install Debian's `postgresql` package (.ci/run does)")
        })
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("no PostgreSQL server under {PG_LIB}"))
}

fn as_postgres(bin: &Path, program: &str) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", "postgres", "--"])
        .arg(bin.join(program))
        .stdin(Stdio::null());
    command
}

#[track_caller]
fn check(command: &mut Command) -> String {
    let out = command.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl PgCluster {
    /// initdb, start, and make the `rdplay` role and database.
    pub fn start() -> PgCluster {
        super::require_root();
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("rdplay-pg-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        check(
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()),
        );
        let cluster = PgCluster { dir, bin };
        check(
            as_postgres(&cluster.bin, "initdb")
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "-D",
                ])
                .arg(cluster.data()),
        );
        let conf = format!(
            "listen_addresses = ''\nunix_socket_directories = '{}'\nport = 5432\nfsync = on\n\
             max_connections = 100\nshared_buffers = 16MB\n",
            cluster.dir.path().display()
        );
        append(&cluster.data().join("postgresql.conf"), &conf);
        // The superuser is trusted on the socket; every other role needs its password.
        std::fs::write(
            cluster.data().join("pg_hba.conf"),
            "local all postgres trust\nlocal all all scram-sha-256\n",
        )
        .unwrap();
        cluster.start_again();
        cluster.psql(
            "postgres",
            &format!("CREATE ROLE rdplay LOGIN PASSWORD '{PASSWORD}'"),
        );
        cluster.psql("postgres", "CREATE DATABASE rdplay OWNER rdplay");
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The socket directory (the URL's host).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of the `rdplay` database as the `rdplay` role, over the socket.
    pub fn url(&self) -> String {
        let host = self.socket_dir().display().to_string().replace('/', "%2F");
        format!("postgres://rdplay@{host}/rdplay")
    }

    /// Writes the role's password to a 0600 file in `dir`; returns its path.
    pub fn password_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("db.secret");
        super::write_private(&path, format!("{PASSWORD}\n").as_bytes());
        path
    }

    /// The playbook's `inventory:` mapping (flow style) for this cluster, its password in a file
    /// written in `dir`.
    pub fn inventory_yaml(&self, dir: &Path) -> String {
        format!(
            "{{ url: \"{}\", password: {{ file: {} }} }}",
            self.url(),
            self.password_file(dir).display()
        )
    }

    /// Starts (again) the server of this cluster and waits until it accepts connections.
    pub fn start_again(&self) {
        check(
            as_postgres(&self.bin, "pg_ctl")
                .args(["-w", "-s", "-l"])
                .arg(self.dir.path().join("server.log"))
                .arg("-D")
                .arg(self.data())
                .arg("start"),
        );
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    pub fn stop_immediate(&self) {
        check(
            as_postgres(&self.bin, "pg_ctl")
                .args(["-w", "-s", "-m", "immediate", "-D"])
                .arg(self.data())
                .arg("stop"),
        );
    }

    /// Runs SQL as the superuser in `database`; the rows, one per line, fields split by `|`.
    #[track_caller]
    pub fn psql(&self, database: &str, sql: &str) -> String {
        check(
            as_postgres(&self.bin, "psql")
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(self.socket_dir())
                .args(["-U", "postgres", "-d", database, "-c", sql]),
        )
    }

    /// One value from a query in the `rdplay` database.
    #[track_caller]
    pub fn value(&self, sql: &str) -> String {
        self.psql("rdplay", sql).trim().to_owned()
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin, "pg_ctl")
            .args(["-w", "-s", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .stderr(Stdio::null())
            .status();
    }
}
