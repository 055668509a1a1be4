//! The sheets effect: a renewed PC's user sheet and PC sheet (PDF/PNG), then the inventory's journal
//! step 3 (the account becomes `live` with its sheets), then the removal of the sheets of the accounts
//! the renewal deleted. At the end of the run, the files to print: the batch files (`users.pdf`,
//! `pcs.pdf`), the account slips (`slips.pdf`) and the sheets of PC labels (`labels.pdf`).

use super::print::PrintList;
use super::{BoxFuture, Done, Effect, Renewed};
use crate::inventory::Store;
use crate::playbook::Printable;
use crate::render::{Format, PcSheet, Renderer, UserSheet};
use crate::tasks::{StepError, StepKind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Writes the sheets of every renewed PC.
pub struct Sheets<S: Store> {
    pub renderer: Arc<Renderer>,
    pub store: S,
    pub out_dir: PathBuf,
    pub formats: Vec<Format>,
    pub site: String,
    pub output: crate::playbook::Output,
    /// One permit per core: rendering is CPU work, and this keeps memory flat at any fleet size.
    pub slots: tokio::sync::Semaphore,
    /// The sheets of this run, for the batch files, labels and slips (`None`: none of them).
    pub batch: Option<Mutex<Vec<(UserSheet, PcSheet)>>>,
    /// Where the batch files are listed for printing once written (`None`: nowhere).
    pub printables: Option<Arc<PrintList>>,
}

impl<S: Store> Sheets<S> {
    /// The sheets of `pb`'s output section, rendered `slots` at a time.
    pub fn new(
        pb: &crate::playbook::Playbook,
        renderer: Arc<Renderer>,
        store: S,
        slots: usize,
    ) -> Sheets<S> {
        Sheets {
            renderer,
            store,
            out_dir: pb.output.dir.clone(),
            formats: pb.output.formats.iter().map(|f| (*f).into()).collect(),
            site: pb.site.clone(),
            output: pb.output.clone(),
            slots: tokio::sync::Semaphore::new(slots),
            batch: (pb.output.batch || pb.output.labels.is_some() || pb.output.slips.is_some())
                .then(|| Mutex::new(Vec::new())),
            printables: None,
        }
    }

    /// Lists the batch files in `list` once written, for the print effect.
    pub fn printing_to(mut self, list: Arc<PrintList>) -> Sheets<S> {
        self.printables = Some(list);
        self
    }

    async fn sheets(&self, r: &Renewed<'_>) -> Result<Done, StepError> {
        let render_err = |what: &str, e: crate::render::RenderError| {
            StepError::caused(StepKind::Render, what.to_string(), e)
        };
        let date = r.vars.date.to_string();
        let user = UserSheet {
            username: r.username.to_string(),
            password: r.password.clone(),
            request: r.request.to_string(),
            date: date.clone(),
            site: self.site.clone(),
            hostname: r.facts.hostname.clone(),
            number: r.vars.number,
            ip: r.pc.ip.to_string(),
            mac: r.pc.mac.to_string(),
            shell: r.shell.to_string(),
            facts: r.facts.clone(),
            reprint: None,
        };
        let qr = self
            .output
            .qr_content(r.vars, r.username)
            .map_err(|e| StepError::caused(StepKind::Render, "QR content", e))?;
        let pc = PcSheet {
            hostname: r.facts.hostname.clone(),
            number: r.vars.number,
            ip: r.pc.ip.to_string(),
            mac: r.pc.mac.to_string(),
            qr,
            request: r.request.to_string(),
            date,
            site: self.site.clone(),
            username: r.username.to_string(),
            facts: r.facts.clone(),
        };
        let _core = self
            .slots
            .acquire()
            .await
            .map_err(|_| StepError::new(StepKind::Render, "render slots closed"))?;
        let (renderer, out, formats) = (
            Arc::clone(&self.renderer),
            self.out_dir.clone(),
            self.formats.clone(),
        );
        let (user, pc, user_paths, pc_paths) = tokio::task::spawn_blocking(move || {
            let user_paths = renderer.user_sheet(&user, &formats, &out);
            let pc_paths = renderer.pc_sheet(&pc, &formats, &out);
            (user, pc, user_paths, pc_paths)
        })
        .await
        .map_err(|e| StepError::caused(StepKind::Render, "rendering stopped", e))?;
        drop(_core);
        let user_paths = user_paths.map_err(|e| render_err("user sheet", e))?;
        let pc_paths = pc_paths.map_err(|e| render_err("PC sheet", e))?;
        self.store
            .sheets_written(&user.username, user_paths.clone(), pc_paths.clone())
            .await
            .map_err(|e| StepError::caused(StepKind::Inventory, "recording the sheets", e))?;
        for name in r.gone.iter().filter(|n| **n != user.username) {
            crate::render::remove_user_sheets(&self.out_dir, name).map_err(|e| {
                StepError::caused(
                    StepKind::Render,
                    format!("removing the sheets of {name}"),
                    e,
                )
            })?;
        }
        if let Some(batch) = &self.batch
            && let Ok(mut all) = batch.lock()
        {
            all.push((user, pc));
        }
        let mut files = user_paths;
        files.extend(pc_paths);
        Ok(Done {
            effect: "sheets",
            files,
        })
    }
}

impl<S: Store> Effect for Sheets<S> {
    fn name(&self) -> &'static str {
        "sheets"
    }

    fn apply<'a>(&'a self, pc: &'a Renewed<'a>) -> BoxFuture<'a, Result<Done, StepError>> {
        Box::pin(self.sheets(pc))
    }

    fn finish(&self) -> BoxFuture<'_, Result<Vec<PathBuf>, String>> {
        Box::pin(async move {
            let Some(batch) = &self.batch else {
                return Ok(Vec::new());
            };
            let all = batch.lock().map(|s| s.clone()).unwrap_or_default();
            if all.is_empty() {
                return Ok(Vec::new());
            }
            let renderer = Arc::clone(&self.renderer);
            let out = self.out_dir.clone();
            let output = self.output.clone();
            // The files of the run's end, each with what it is when printed.
            let written = tokio::task::spawn_blocking(move || {
                let (users, pcs): (Vec<UserSheet>, Vec<PcSheet>) = all.into_iter().unzip();
                let mut written = Vec::new();
                if output.batch {
                    let (users_pdf, pcs_pdf) = (out.join("users.pdf"), out.join("pcs.pdf"));
                    renderer.user_batch(&users, &users_pdf)?;
                    renderer.pc_batch(&pcs, &pcs_pdf)?;
                    written.push((Printable::UserSheets, users_pdf));
                    written.push((Printable::PcSheets, pcs_pdf));
                }
                if output.slips.is_some() {
                    let slips_pdf = out.join("slips.pdf");
                    renderer.user_slips(&users, &slips_pdf)?;
                    written.push((Printable::UserSlips, slips_pdf));
                }
                if let Some(labels) = &output.labels {
                    let labels_pdf = out.join("labels.pdf");
                    renderer.pc_labels(&pcs, &labels.grid, labels.start, &labels_pdf)?;
                    written.push((Printable::PcLabels, labels_pdf));
                }
                Ok::<_, crate::render::RenderError>(written)
            })
            .await
            .map_err(|e| format!("batch files: {e}"))?
            .map_err(|e| format!("batch files: {e}"))?;
            let mut files = Vec::with_capacity(written.len());
            for (what, file) in written {
                if let Some(list) = &self.printables {
                    list.add(what, file.clone());
                }
                files.push(file);
            }
            Ok(files)
        })
    }
}
