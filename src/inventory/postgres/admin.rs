//! What an admin's commands read and write in the shared inventory, outside a run: a PC's host key
//! forgotten (`inventory forget`), its number set by hand (`inventory renumber`), escrowed passwords
//! read back (`reprint`, `escrow rekey`) and every such read (`inventory audit`). The same records
//! and refusals as the SQLite store's methods of the same names.

use super::{PgInventory, R, Tx, parse};
use crate::inventory::InventoryError;
use crate::inventory::model::{EscrowRecord, ReadRecord};
use crate::mac::Mac;
use postgres::types::ToSql;

impl PgInventory {
    /// Forgets the PC's pinned host key (a reinstalled PC): the next run makes first contact again.
    pub async fn forget_host_key(&self, mac: &Mac) -> R<()> {
        let mac = mac.to_string();
        let server = self.server().to_owned();
        self.write("forget a host key", move |tx| {
            let changed = tx.execute("UPDATE pcs SET host_key = NULL WHERE mac = $1", &[&mac])?;
            found(changed, server, mac)
        })
        .await
    }

    /// Sets a PC's number by hand; refuses a number another PC of its site has.
    pub async fn renumber(&self, mac: &Mac, number: u32) -> R<()> {
        let mac = mac.to_string();
        let server = self.server().to_owned();
        self.write("renumber a PC", move |tx| {
            let holder = tx.query_opt(
                "SELECT other.mac FROM pcs other JOIN pcs this ON this.site = other.site
                 WHERE this.mac = $1 AND other.number = $2 AND other.mac != $1",
                &[&mac, &i64::from(number)],
            )?;
            if let Some(holder) = holder {
                return Err(InventoryError::NumberInUse {
                    number,
                    mac: tx.get(&holder, 0)?,
                });
            }
            let changed = tx.execute(
                "UPDATE pcs SET number = $2 WHERE mac = $1",
                &[&mac, &i64::from(number)],
            )?;
            found(changed, server, mac)
        })
        .await
    }

    /// The escrowed passwords, newest first: of one account (`Some(name)`; names are unique across
    /// sites), or of every account of this site not deleted (`None`).
    pub fn escrowed(&self, username: Option<&str>) -> R<Vec<EscrowRecord>> {
        let (username, site) = (username.map(str::to_owned), self.site().to_owned());
        self.read("read the escrowed passwords", move |tx| {
            let (clause, args): (&str, Vec<&(dyn ToSql + Sync)>) = match &username {
                Some(name) => ("e.username = $1", vec![name]),
                None => (
                    "EXISTS (SELECT 1 FROM accounts a WHERE a.username = e.username
                     AND a.mac = e.mac AND a.state != 'deleted' AND a.site = $1)",
                    vec![&site],
                ),
            };
            let rows = tx.query(
                &format!(
                    "SELECT e.id, e.mac, e.username, e.request, e.at, e.recipients, e.ciphertext
                     FROM escrow e WHERE {clause} ORDER BY e.id DESC"
                ),
                &args,
            )?;
            rows.iter()
                .map(|r| {
                    let recipients: String = tx.get(r, 5)?;
                    Ok(EscrowRecord {
                        id: tx.get(r, 0)?,
                        mac: parse(tx, "MAC address", &tx.get::<String>(r, 1)?)?,
                        username: tx.get(r, 2)?,
                        request: tx.get(r, 3)?,
                        at: parse(tx, "timestamp", &tx.get::<String>(r, 4)?)?,
                        recipients: serde_json::from_str(&recipients)
                            .map_err(|_| super::corrupt(tx, "list of recipients", &recipients))?,
                        ciphertext: tx.get(r, 6)?,
                    })
                })
                .collect()
        })
    }

    /// Every read of an escrowed password of this site's PCs, oldest first.
    pub fn reads(&self) -> R<Vec<ReadRecord>> {
        let site = Some(self.site().to_owned());
        self.read("read the reads of escrowed passwords", move |tx| {
            reads_of(tx, &site)
        })
    }

    /// Records a read of an escrowed password, committed before its plaintext is used.
    pub async fn record_read(&self, read: ReadRecord) -> R<()> {
        self.write("record a read of an escrowed password", move |tx| {
            tx.execute(
                "INSERT INTO reads (at, username, mac, action, identity, local_user, local_host,
                                    reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &read.at.to_string(),
                    &read.username,
                    &read.mac.to_string(),
                    &read.action,
                    &read.identity,
                    &read.local_user,
                    &read.local_host,
                    &read.reason,
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Replaces an escrowed password's ciphertext (a rekey to other recipients).
    pub async fn rekey(&self, id: i64, recipients: Vec<String>, ciphertext: Vec<u8>) -> R<()> {
        self.write("store the rekeyed password", move |tx| {
            tx.execute(
                "UPDATE escrow SET recipients = $2, ciphertext = $3 WHERE id = $1",
                &[&id, &super::json_list(&recipients), &ciphertext],
            )?;
            Ok(())
        })
        .await
    }
}

/// The reads of escrowed passwords of one site's PCs (`Some`) or of every site's, oldest first.
pub(super) fn reads_of(tx: &mut Tx<'_>, site: &Option<String>) -> R<Vec<ReadRecord>> {
    let rows = tx.query(
        "SELECT at, username, mac, action, identity, local_user, local_host, reason FROM reads
         WHERE $1::TEXT IS NULL OR mac IN (SELECT mac FROM pcs WHERE site = $1) ORDER BY id",
        &[site],
    )?;
    rows.iter()
        .map(|r| {
            Ok(ReadRecord {
                at: parse(tx, "timestamp", &tx.get::<String>(r, 0)?)?,
                username: tx.get(r, 1)?,
                mac: parse(tx, "MAC address", &tx.get::<String>(r, 2)?)?,
                action: tx.get(r, 3)?,
                identity: tx.get(r, 4)?,
                local_user: tx.get(r, 5)?,
                local_host: tx.get(r, 6)?,
                reason: tx.get(r, 7)?,
            })
        })
        .collect()
}

/// A change to one PC that touched no row: the PC is not in the inventory.
fn found(changed: u64, server: String, mac: String) -> R<()> {
    if changed == 0 {
        return Err(InventoryError::PcNotFound {
            path: server.into(),
            query: mac,
        });
    }
    Ok(())
}
