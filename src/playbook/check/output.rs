//! `output`: the sheets. Their templates, formats, the QR code's content (rendered for the first
//! address), the language, and how printing and label sheets agree with what is written; the
//! `print` and `labels` subsections have their own files.

use super::{Checker, resolve};
use crate::playbook::account::{NameVars, render_template};
use crate::playbook::raw::{Printable, RawOutput, RawPlaybook};
use crate::playbook::sections::{Output, Print, Slips};
use crate::playbook::target::Target;
use std::net::Ipv4Addr;

impl Checker<'_> {
    pub(super) fn output(&mut self, raw: &RawPlaybook, target: Option<&Target>) -> Output {
        let o = &raw.output;
        let user_sheet = self.optional_file(
            "output.user_sheet",
            o.user_sheet.as_deref(),
            "user sheet template",
        );
        let pc_sheet = self.optional_file(
            "output.pc_sheet",
            o.pc_sheet.as_deref(),
            "PC sheet template",
        );
        let formats = self.once(
            "output.formats",
            &o.formats,
            "output.formats: this format is listed twice",
            "output.formats is empty: no sheet would be written",
            "use `[pdf]`, `[png]` or `[pdf, png]`",
        );
        if let Some(first) = target.and_then(|t| t.addresses().first().copied()) {
            self.qr(&raw.site, first, &o.qr);
        }
        let print = o.print.as_ref().map(|p| self.print(p, &formats));
        if let Some(p) = &print {
            self.print_agrees(o, p);
        }
        let labels = o.labels.as_ref().map(|l| self.labels(l));
        let slips = o.slips.as_ref().map(|s| Slips {
            template: self.optional_file(
                "output.slips.template",
                s.template.as_deref(),
                "slips template",
            ),
        });
        self.lang(&o.lang);
        Output {
            lang: o.lang.clone(),
            dir: resolve(self.dir, &o.dir),
            user_sheet,
            pc_sheet,
            formats,
            batch: o.batch,
            qr: o.qr.clone(),
            print,
            labels,
            slips,
        }
    }

    /// `output.qr` renders for the first address (`first`), with a sample user name.
    fn qr(&mut self, site: &str, first: Ipv4Addr, qr: &str) {
        let vars = NameVars::sample(site, 1, first);
        let username = [("username", minijinja::Value::from("USERSS001-1234"))];
        if let Err(e) = render_template(qr, &vars, &username) {
            self.pattern_problem("output.qr", "output.qr", &e, &["username"]);
        }
    }

    /// What `output.print` prints is written: sheets come from the batch files, slips and
    /// labels from their own subsections.
    fn print_agrees(&mut self, o: &RawOutput, print: &Print) {
        let prints_sheets = print
            .what
            .iter()
            .any(|w| matches!(w, Printable::UserSheets | Printable::PcSheets));
        if prints_sheets && !o.batch {
            self.problem(
                "output.batch",
                "output.print prints the batch files, and output.batch is false",
                Some("remove `batch: false`, or print only `user_slips` and `pc_labels`".into()),
            );
        }
        for (i, what) in print.what.iter().enumerate() {
            let missing = match what {
                Printable::UserSlips => o.slips.is_none().then_some("slips: {}"),
                Printable::PcLabels => o
                    .labels
                    .is_none()
                    .then_some("labels: { sheet: avery-l7160 }"),
                _ => None,
            };
            if let Some(add) = missing {
                self.problem(
                    &format!("output.print.what[{i}]"),
                    format!("output.print.what: {} are not written", what.as_str()),
                    Some(format!("add `{add}` under `output`")),
                );
            }
        }
    }

    fn lang(&mut self, lang: &str) {
        if !crate::render::is_lang_code(lang) {
            self.problem(
                "output.lang",
                format!("output.lang: {lang:?} is not a language code"),
                Some(
                    "2 or 3 small letters: `en`, `fr`, or a code with its templates/lang/CODE.json"
                        .into(),
                ),
            );
        }
    }
}
