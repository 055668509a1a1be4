//! The connector seam: how the engine reaches a PC. Two operations open a connection — first contact
//! (the admin's password, pinning the host key, installing the controller's key) and a managed
//! connection that accepts only the pinned key — and a [`Connection`] runs commands with stdin and
//! uploads files. [`openssh`] is the real one (the system OpenSSH, one ControlMaster per PC); tests of
//! the engine's decisions also use an in-memory fake (`fake`, test builds only), never instead of the
//! lab tests.

#[cfg(test)]
pub mod fake;
pub mod openssh;

pub use crate::ssh::{RemoteOutput, SshError, Streamed};
use std::future::Future;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// Opens connections to PCs.
pub trait Connector: Send + Sync + 'static {
    /// An open connection to one PC.
    type Conn: Connection;

    /// First contact with the PC at `ip`: log in as the admin, install the controller's key for the
    /// connection user, and return the host key lines the PC presented (to pin).
    fn first_contact(
        &self,
        ip: Ipv4Addr,
        timeout: Duration,
    ) -> impl Future<Output = Result<String, SshError>> + Send;

    /// Logs in as `user` with `password` over a connection of its own (pinned `host_keys`), proving
    /// the password works; [`crate::ssh::Login::NotOffered`] when the PC allows no password login.
    fn password_login(
        &self,
        ip: Ipv4Addr,
        host_keys: &str,
        user: &str,
        password: &crate::secret::Secret,
        timeout: Duration,
    ) -> impl Future<Output = Result<crate::ssh::Login, SshError>> + Send;

    /// Opens a managed connection to `ip` that accepts only `host_keys` (the pinned lines).
    fn connect(
        &self,
        ip: Ipv4Addr,
        host_keys: &str,
    ) -> impl Future<Output = Result<Self::Conn, SshError>> + Send;
}

/// A managed connection to one PC.
pub trait Connection: Send + Sync + 'static {
    /// Runs `program args...` (each argument quoted for the remote shell), feeding `stdin`, keeping at
    /// most `stdout_cap` bytes of output (more is an error), within `timeout`. `what` names it in errors.
    fn run(
        &self,
        what: &str,
        program: &str,
        args: &[&str],
        stdin: &[u8],
        stdout_cap: usize,
        timeout: Duration,
    ) -> impl Future<Output = Result<RemoteOutput, SshError>> + Send;

    /// Runs `program args...` like [`Connection::run`], but writes its standard output into the new
    /// file `file` (created 0600; it must not exist) as it comes, at most `cap` bytes, with its SHA-256:
    /// for outputs too big to hold in memory (an archive). Past the cap the command is ended and the
    /// result says `over_cap`. The file is synced before this returns; the caller removes it when it
    /// does not keep it, on every path.
    #[allow(clippy::too_many_arguments)]
    fn stream_to_file(
        &self,
        what: &str,
        program: &str,
        args: &[&str],
        stdin: &[u8],
        file: &Path,
        cap: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<Streamed, SshError>> + Send;

    /// Makes ready for an upload (may run alongside commands); uploading without it works too.
    fn prepare_upload(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SshError>> + Send;

    /// Writes `bytes` to the new file `path` on the PC (it must not exist).
    fn upload(
        &self,
        path: &str,
        bytes: &[u8],
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SshError>> + Send;

    /// How a command that needs root starts: nothing as root, `sudo -n` as another user.
    fn as_root(&self) -> &'static [&'static str];

    /// Closes the connection.
    fn close(self) -> impl Future<Output = ()> + Send;
}
