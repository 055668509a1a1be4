//! Where a lab test keeps its inventory: the SQLite file of [`super::fleet::PLAYBOOK`] or one site
//! of a throwaway PostgreSQL cluster. A test written once over [`Inventory`] runs against both with
//! [`lab_on_both!`](crate::lab_on_both): `NAME::sqlite` and `NAME::postgres`.
//!
//! ```ignore
//! lab_on_both!(reprints_a_lost_sheet, |inv| {
//!     let lab = Lab::up(2);
//!     let pb = lab.playbook(&inv.playbook(&lab, PLAYBOOK));
//!     lab.rdplay().args(["inventory", "audit"]).args(inv.source(&lab, &pb)).run();
//! });
//! ```

use super::Lab;
use super::postgres::PgCluster;
use std::path::Path;
use std::process::Command;

/// The inventory of a lab test.
pub enum Inventory {
    /// The playbook's SQLite file (`state/inventory.db`).
    Sqlite,
    /// A shared PostgreSQL database (the playbook's `inventory.url`).
    Postgres(PgCluster),
}

impl Inventory {
    pub fn sqlite() -> Inventory {
        Inventory::Sqlite
    }

    pub fn postgres() -> Inventory {
        Inventory::Postgres(PgCluster::start())
    }

    /// The playbook text `yaml` pointed at this inventory: for PostgreSQL, its `inventory:` section
    /// gets the cluster's `url` and `password` (added when `yaml` has none).
    pub fn playbook(&self, lab: &Lab, yaml: &str) -> String {
        let Inventory::Postgres(pg) = self else {
            return yaml.to_owned();
        };
        let section = format!(
            "inventory:\n  url: \"{}\"\n  password: {{ file: \"{}\" }}\n",
            pg.url(),
            pg.password_file(lab.dir()).display()
        );
        if yaml.contains("\ninventory:\n") {
            yaml.replacen("\ninventory:\n", &format!("\n{section}"), 1)
        } else {
            format!("{yaml}{section}")
        }
    }

    /// The arguments naming it to `rdplay inventory ...`: the SQLite file (`--db`), or the playbook
    /// `pb` that names the shared one.
    pub fn source(&self, lab: &Lab, pb: &Path) -> [String; 2] {
        match self {
            Inventory::Sqlite => ["--db".into(), super::fleet::db(lab).display().to_string()],
            Inventory::Postgres(_) => ["--playbook".into(), pb.display().to_string()],
        }
    }

    /// The inventory as `rdplay inventory export --format json`, read through the playbook `pb`
    /// for PostgreSQL (as [`super::fleet::inventory`] reads the SQLite file).
    pub fn export(&self, lab: &Lab, pb: &Path) -> serde_json::Value {
        let out = lab
            .rdplay()
            .args(["inventory", "export", "--format", "json"])
            .args(self.source(lab, pb))
            .run();
        out.success();
        serde_json::from_str(&out.stdout).expect("export is JSON")
    }

    /// One value of a query (the same SQL on both: plain `SELECT`s of one value).
    #[track_caller]
    pub fn value(&self, lab: &Lab, sql: &str) -> String {
        match self {
            Inventory::Sqlite => {
                let out = Command::new("sqlite3")
                    .arg(super::fleet::db(lab))
                    .arg(sql)
                    .output()
                    .expect("run sqlite3");
                assert!(out.status.success(), "sqlite3 {sql}: {out:?}");
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            }
            Inventory::Postgres(pg) => pg.value(sql),
        }
    }

    /// How many rows of `table` are about host `i`'s PC (by its MAC).
    #[track_caller]
    pub fn rows_of_pc(&self, lab: &Lab, table: &str, i: usize) -> u64 {
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE mac = '{}';",
            lab.host(i).mac
        );
        let count = self.value(lab, &sql);
        count.parse().unwrap_or_else(|_| panic!("{sql}: {count:?}"))
    }

    /// Everything it stores, as bytes: the SQLite file, or a dump of the database's rows.
    pub fn bytes(&self, lab: &Lab) -> Vec<u8> {
        match self {
            Inventory::Sqlite => std::fs::read(super::fleet::db(lab)).expect("read the inventory"),
            Inventory::Postgres(pg) => pg.dump().into_bytes(),
        }
    }
}

/// One lab test body, run against each inventory: `NAME::sqlite` and `NAME::postgres`. The body
/// gets an [`Inventory`] named by the closure's argument.
#[macro_export]
macro_rules! lab_on_both {
    ($name:ident, |$inv:ident| $body:block) => {
        mod $name {
            use super::*;

            fn test($inv: common::backend::Inventory) $body

            #[test]
            #[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
            fn sqlite() {
                test(common::backend::Inventory::sqlite())
            }

            #[test]
            #[cfg_attr(not(feature = "lab"), ignore = "needs root and --features lab")]
            fn postgres() {
                test(common::backend::Inventory::postgres())
            }
        }
    };
}
