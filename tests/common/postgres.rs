//! A throwaway PostgreSQL cluster for tests: Debian's `postgresql` binaries, `initdb` and `pg_ctl`
//! run as the unprivileged `postgres` user (so the tests need root, and the `lab` feature) in a
//! temporary directory, listening on a Unix socket only (`listen_addresses = ''`). The role `rdplay` logs in with a password (scram-sha-256), as a
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
    /// Its port: 5432 on the socket alone; a free one when it listens on 127.0.0.1 too.
    port: u16,
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
        let cluster = PgCluster::init(5432);
        cluster.configure("listen_addresses = ''\n", "");
        cluster.start_again();
        cluster.make_role_and_database();
        cluster
    }

    /// Like [`PgCluster::start`], also listening on 127.0.0.1 (a free port) with TLS only:
    /// `ssl = on` with a certificate for `127.0.0.1` signed by a CA made here ([`PgCluster::ca`]),
    /// and pg_hba `hostssl` lines alone for TCP (a plain connection is refused).
    pub fn start_tls() -> PgCluster {
        let mut last = String::new();
        // A free port may be taken by another process between its choice and the server's bind:
        // then the server says so and another is chosen.
        for _ in 0..5 {
            let port = free_port();
            let cluster = PgCluster::init(port);
            cluster.make_certificates();
            cluster.configure(
                "listen_addresses = '127.0.0.1'\nssl = on\nssl_cert_file = 'server.crt'\n\
                 ssl_key_file = 'server.key'\n",
                "hostssl all all 127.0.0.1/32 scram-sha-256\n",
            );
            match cluster.try_start() {
                Ok(()) => {
                    cluster.make_role_and_database();
                    return cluster;
                }
                Err(log) if log.contains("could not bind") => last = log,
                Err(log) => panic!("the TLS cluster did not start:\n{log}"),
            }
        }
        panic!("no free port for the TLS cluster:\n{last}");
    }

    /// A new cluster's directory and `initdb`.
    fn init(port: u16) -> PgCluster {
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
        let cluster = PgCluster { dir, bin, port };
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
        cluster
    }

    /// `postgresql.conf` with `listen` lines, and `pg_hba.conf`: the superuser trusted on the
    /// socket, every other role by its password, plus the `tcp` lines.
    fn configure(&self, listen: &str, tcp: &str) {
        let conf = format!(
            "{listen}unix_socket_directories = '{}'\nport = {}\nfsync = on\n\
             max_connections = 100\nshared_buffers = 16MB\n",
            self.dir.path().display(),
            self.port
        );
        append(&self.data().join("postgresql.conf"), &conf);
        std::fs::write(
            self.data().join("pg_hba.conf"),
            format!("local all postgres trust\nlocal all all scram-sha-256\n{tcp}"),
        )
        .unwrap();
    }

    fn make_role_and_database(&self) {
        self.psql(
            "postgres",
            &format!("CREATE ROLE rdplay LOGIN PASSWORD '{PASSWORD}'"),
        );
        self.psql("postgres", "CREATE DATABASE rdplay OWNER rdplay");
    }

    /// A CA (`ca.crt`, in the cluster's directory) and the server's key and certificate for
    /// `127.0.0.1` signed by it (in the data directory, the key 0600 and the server's), made with
    /// the `openssl` command.
    fn make_certificates(&self) {
        let dir = self.dir.path();
        make_ca(dir, "ca");
        openssl(
            dir,
            &[
                &["req"],
                NEW_EC_KEY,
                &["-keyout", "data/server.key", "-out", "server.csr"],
                &["-subj", "/CN=127.0.0.1"],
            ],
        );
        std::fs::write(dir.join("san.ext"), "subjectAltName = IP:127.0.0.1\n").unwrap();
        openssl(
            dir,
            &[
                &["x509", "-req", "-in", "server.csr", "-days", "2"],
                &["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"],
                &["-extfile", "san.ext", "-out", "data/server.crt"],
            ],
        );
        for file in ["server.key", "server.crt"] {
            check(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(self.data().join(file)),
            );
        }
        std::fs::set_permissions(
            self.data().join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }

    /// The CA certificate that signed the server's (a TLS cluster).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// The URL of the `rdplay` database as the `rdplay` role over TCP to 127.0.0.1 (a TLS cluster).
    pub fn tcp_url(&self) -> String {
        format!("postgres://rdplay@127.0.0.1:{}/rdplay", self.port)
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
    #[track_caller]
    pub fn start_again(&self) {
        if let Err(log) = self.try_start() {
            panic!("the PostgreSQL server did not start:\n{log}");
        }
    }

    /// Starts the server and waits until it accepts connections; its log when it does not start.
    fn try_start(&self) -> Result<(), String> {
        let log = self.dir.path().join("server.log");
        let status = as_postgres(&self.bin, "pg_ctl")
            .args(["-w", "-s", "-l"])
            .arg(&log)
            .arg("-D")
            .arg(self.data())
            .arg("start")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run pg_ctl");
        if status.success() {
            Ok(())
        } else {
            Err(std::fs::read_to_string(&log).unwrap_or_default())
        }
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
                .arg(format!("--port={}", self.port))
                .args(["-U", "postgres", "-d", database, "-c", sql]),
        )
    }

    /// Every row of the `rdplay` database, as `pg_dump --data-only` writes them.
    #[track_caller]
    pub fn dump(&self) -> String {
        check(
            as_postgres(&self.bin, "pg_dump")
                .args(["--data-only", "-h"])
                .arg(self.socket_dir())
                .arg(format!("--port={}", self.port))
                .args(["-U", "postgres", "rdplay"]),
        )
    }

    /// One value from a query in the `rdplay` database.
    #[track_caller]
    pub fn value(&self, sql: &str) -> String {
        self.psql("rdplay", sql).trim().to_owned()
    }
}

/// `openssl` options that make a new P-256 key, unencrypted.
const NEW_EC_KEY: &[&str] = &[
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

/// Runs `openssl` in `dir` with the arguments given in groups.
#[track_caller]
fn openssl(dir: &Path, args: &[&[&str]]) {
    check(Command::new("openssl").current_dir(dir).args(args.concat()));
}

/// A new CA in `dir`, valid two days: its key `NAME.key` and self-signed certificate `NAME.crt`,
/// whose path it returns.
#[track_caller]
pub fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
    let subject = format!("/CN=rdplay test CA {name}");
    openssl(
        dir,
        &[
            &["req", "-x509", "-days", "2"],
            NEW_EC_KEY,
            &["-keyout", &key, "-out", &crt, "-subj", &subject],
        ],
    );
    dir.join(crt)
}

/// A port nothing listens on now, on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
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
