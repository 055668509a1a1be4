//! The connections to the PostgreSQL server: a few threads, each owning one connection, serving the
//! inventory's queries from one queue, each query in its own transaction.
//!
//! Threads rather than tasks: the synchronous `postgres` client (tokio-postgres driven by a runtime
//! of its own) blocks, and the engine reads the inventory synchronously while planning. Each thread
//! connects on its first query and again, with bounded retries, after its connection was lost: a
//! query that fails with the connection fails its caller (a PC's step), never silently retried, so a
//! write is either committed or reported failed.

use crate::inventory::InventoryError;
use crate::playbook::{PasswordSource, Postgres, TlsMode};
use postgres::types::{FromSql, ToSql};
use postgres::{Client, Row, Transaction};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections tried before a query gives up on an unreachable server.
const ATTEMPTS: u32 = 3;
/// The pause after the first failed connection; doubled after each.
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// At most this many connections per controller, whatever `forks` says: a server's default
/// `max_connections` is 100, shared by every site.
pub const MAX_CONNECTIONS: usize = 16;

/// How to reach the server: its parsed settings (with the password read from its source), TLS, and
/// its name for messages.
pub(crate) struct Server {
    config: postgres::Config,
    tls: Option<postgres_native_tls::MakeTlsConnector>,
    /// `USER@HOST:PORT/DATABASE`, for messages (never a password).
    pub name: String,
}

impl Server {
    /// Reads the password from its source and builds the TLS connector (with the CA when given).
    pub(crate) fn new(pg: &Postgres) -> Result<Server, InventoryError> {
        let parsed = crate::playbook::sections::parse_postgres_url(&pg.url).map_err(|message| {
            InventoryError::PostgresSetup {
                server: "(inventory.url)".into(),
                message,
            }
        })?;
        let name = parsed.server;
        let setup = |message: String| InventoryError::PostgresSetup {
            server: name.clone(),
            message,
        };
        let mut config: postgres::Config = pg
            .url
            .parse()
            .map_err(|e: postgres::Error| setup(e.to_string()))?;
        if let Some(source) = &pg.password {
            if matches!(source, PasswordSource::Prompt) {
                return Err(setup("the database password cannot be typed in".into()));
            }
            let password = source.read().map_err(|e| setup(e.to_string()))?;
            config.password(password.expose());
        }
        config
            .application_name("rdplay")
            .connect_timeout(Duration::from_secs(5))
            .keepalives_idle(Duration::from_secs(10))
            // A cut network fails the query in flight within this time rather than hanging it.
            .tcp_user_timeout(Duration::from_secs(15));
        let tls = match pg.tls {
            TlsMode::Disable => {
                config.ssl_mode(postgres::config::SslMode::Disable);
                None
            }
            TlsMode::Require => {
                config.ssl_mode(postgres::config::SslMode::Require);
                let mut builder = native_tls::TlsConnector::builder();
                if let Some(ca) = &pg.ca {
                    let pem = std::fs::read(ca)
                        .map_err(|e| setup(format!("cannot read the CA {}: {e}", ca.display())))?;
                    let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                        setup(format!(
                            "the CA {} is not a PEM certificate: {e}",
                            ca.display()
                        ))
                    })?;
                    builder.add_root_certificate(cert);
                }
                let connector = builder
                    .build()
                    .map_err(|e| setup(format!("TLS could not be set up: {e}")))?;
                Some(postgres_native_tls::MakeTlsConnector::new(connector))
            }
        };
        Ok(Server { config, tls, name })
    }

    /// A new connection, after up to [`ATTEMPTS`] tries with growing pauses.
    pub(crate) fn connect(&self) -> Result<Client, InventoryError> {
        let mut pause = FIRST_PAUSE;
        let mut attempt = 1;
        loop {
            let result = match &self.tls {
                None => self.config.connect(postgres::NoTls),
                Some(tls) => self.config.connect(tls.clone()),
            };
            match result {
                Ok(client) => return Ok(client),
                // The server answered and refused (a wrong password, an unknown role): retrying
                // would not help.
                Err(e) if e.as_db_error().is_some() => {
                    return Err(InventoryError::Postgres {
                        server: self.name.clone(),
                        action: "let rdplay log in",
                        source: e,
                    });
                }
                Err(e) if attempt == ATTEMPTS => {
                    return Err(InventoryError::Unreachable {
                        server: self.name.clone(),
                        attempts: attempt,
                        source: e,
                    });
                }
                Err(_) => {
                    std::thread::sleep(pause);
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// An error of `action` on this server.
    pub(crate) fn error(&self, action: &'static str) -> impl Fn(postgres::Error) -> InventoryError {
        let server = self.name.clone();
        move |source| InventoryError::Postgres {
            server: server.clone(),
            action,
            source,
        }
    }
}

/// One transaction, with the server's name at hand for errors and typed column reads that never
/// panic.
pub(crate) struct Tx<'a> {
    tx: Transaction<'a>,
    server: &'a Server,
    action: &'static str,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    /// Runs a statement; the rows it changed.
    pub fn execute(&mut self, sql: &str, params: Params<'_>) -> Result<u64, InventoryError> {
        self.tx
            .execute(sql, params)
            .map_err(self.server.error(self.action))
    }

    /// Runs a query; its rows.
    pub fn query(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, InventoryError> {
        self.tx
            .query(sql, params)
            .map_err(self.server.error(self.action))
    }

    /// Runs a query that answers one row or none.
    pub fn query_opt(
        &mut self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, InventoryError> {
        self.tx
            .query_opt(sql, params)
            .map_err(self.server.error(self.action))
    }

    /// Runs a query that answers exactly one row.
    pub fn query_one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, InventoryError> {
        self.tx
            .query_one(sql, params)
            .map_err(self.server.error(self.action))
    }

    /// Runs several statements (a migration).
    pub fn batch(&mut self, sql: &str) -> Result<(), InventoryError> {
        self.tx
            .batch_execute(sql)
            .map_err(self.server.error(self.action))
    }

    /// Column `i` of `row`, typed; a type the schema does not have is an error, not a panic.
    pub fn get<'r, T: FromSql<'r>>(&self, row: &'r Row, i: usize) -> Result<T, InventoryError> {
        row.try_get(i).map_err(self.server.error(self.action))
    }

    /// The server's name.
    pub fn server(&self) -> &str {
        &self.server.name
    }

    /// The error of this transaction's action for `source`.
    pub fn error(&self, source: postgres::Error) -> InventoryError {
        (self.server.error(self.action))(source)
    }
}

/// A query for a connection thread, its type erased so one queue carries every kind.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// One thread's connection, made when first needed and again after it was lost.
pub(crate) struct Connection {
    server: Arc<Server>,
    client: Option<Client>,
}

impl Connection {
    /// A connection to `server`, made at its first transaction.
    pub(crate) fn new(server: Arc<Server>) -> Connection {
        Connection {
            server,
            client: None,
        }
    }

    /// Runs `work` in one transaction, committed when it returns `Ok`; rolled back otherwise.
    pub(crate) fn transaction<T>(
        &mut self,
        action: &'static str,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, InventoryError>,
    ) -> Result<T, InventoryError> {
        let mut client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => self.server.connect()?,
        };
        let result = (|| {
            let tx = client.transaction().map_err(self.server.error(action))?;
            let mut tx = Tx {
                tx,
                server: &self.server,
                action,
            };
            let value = work(&mut tx)?;
            tx.tx.commit().map_err(self.server.error(action))?;
            Ok(value)
        })();
        // A lost connection is made again by the next query.
        if !client.is_closed() {
            self.client = Some(client);
        }
        result
    }
}

/// The connection threads and their queue. Dropping it lets the threads finish the queue, close
/// their connections and end.
pub(crate) struct Pool {
    server: Arc<Server>,
    queue: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `size` connection threads (at least 1, at most [`MAX_CONNECTIONS`]); none connects
    /// before its first query.
    pub(crate) fn start(server: Arc<Server>, size: usize) -> Result<Pool, InventoryError> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        let mut threads = Vec::new();
        for _ in 0..size.clamp(1, MAX_CONNECTIONS) {
            let jobs = Arc::clone(&jobs);
            let mut conn = Connection {
                server: Arc::clone(&server),
                client: None,
            };
            let thread = std::thread::Builder::new()
                .name("inventory-pg".into())
                .spawn(move || {
                    loop {
                        let job = {
                            let queue = jobs.lock().unwrap_or_else(|p| p.into_inner());
                            queue.recv()
                        };
                        match job {
                            Ok(job) => job(&mut conn),
                            Err(_) => break,
                        }
                    }
                })
                .map_err(|e| InventoryError::PostgresSetup {
                    server: server.name.clone(),
                    message: format!("cannot start a connection thread: {e}"),
                })?;
            threads.push(thread);
        }
        Ok(Pool {
            server,
            queue: Some(queue),
            threads,
        })
    }

    /// The server's name.
    pub(crate) fn server(&self) -> &str {
        &self.server.name
    }

    fn send(&self, job: Job) -> Result<(), InventoryError> {
        self.queue
            .as_ref()
            .and_then(|q| q.send(job).ok())
            .ok_or_else(|| InventoryError::WriterGone {
                path: self.server.name.clone().into(),
            })
    }

    /// Runs `work` in a transaction on a connection thread and waits for it (blocking: for reads).
    pub(crate) fn blocking<T: Send + 'static>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, InventoryError> + Send + 'static,
    ) -> Result<T, InventoryError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Box::new(move |conn: &mut Connection| {
            let _ = reply.send(conn.transaction(action, work));
        }))?;
        answer.recv().map_err(|_| InventoryError::WriterGone {
            path: self.server.name.clone().into(),
        })?
    }

    /// Runs `work` in a transaction on a connection thread; resolves once it is committed (or
    /// failed).
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        action: &'static str,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, InventoryError> + Send + 'static,
    ) -> Result<T, InventoryError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Box::new(move |conn: &mut Connection| {
            let _ = reply.send(conn.transaction(action, work));
        }))?;
        answer.await.map_err(|_| InventoryError::WriterGone {
            path: self.server.name.clone().into(),
        })?
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queue.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
