//! `output.print`: sending the sheets to CUPS. Queue names, what to print (once each), copies,
//! `lp -o` options, and PDF among the formats.

use super::Checker;
use crate::playbook::raw::{Format, RawPrint};
use crate::playbook::sections::{MAX_COPIES, Print, is_job_option, is_queue_name};

impl Checker<'_> {
    pub(super) fn print(&mut self, p: &RawPrint, formats: &[Format]) -> Print {
        self.queues(p);
        let what = self.once(
            "output.print.what",
            &p.what,
            "output.print.what: this is listed twice",
            "output.print.what is empty: nothing would be printed",
            "list what to print, e.g. `[user_sheets, pc_sheets]`, or remove `print`",
        );
        if !(1..=MAX_COPIES).contains(&p.copies) {
            self.problem(
                "output.print.copies",
                format!("output.print.copies: {} copies", p.copies),
                Some(format!("from 1 to {MAX_COPIES}")),
            );
        }
        self.job_options(p);
        if !formats.contains(&Format::Pdf) {
            self.problem(
                "output.formats",
                "output.print needs PDF sheets: `pdf` is not in output.formats",
                Some("use `formats: [pdf]` or `[pdf, png]`".into()),
            );
        }
        Print {
            printer: p.printer.clone(),
            printers: p.printers.clone(),
            what,
            copies: p.copies,
            options: p.options.clone().into_iter().collect(),
        }
    }

    /// `printer` and `printers` are CUPS queue names.
    fn queues(&mut self, p: &RawPrint) {
        let queue_help = || {
            Some(
                "a CUPS queue name, as `lpstat -p` lists it: no spaces, `/`, `#`, `?` or quotes, no leading `-`"
                    .into(),
            )
        };
        if !is_queue_name(&p.printer) {
            self.problem(
                "output.print.printer",
                "output.print.printer: not a CUPS queue name",
                queue_help(),
            );
        }
        for (i, queue) in p.printers.iter().enumerate() {
            if !is_queue_name(queue) {
                self.problem(
                    &format!("output.print.printers[{i}]"),
                    "output.print.printers: not a CUPS queue name",
                    queue_help(),
                );
            }
        }
    }

    /// Every `options` entry can be passed as `lp -o NAME=VALUE`.
    fn job_options(&mut self, p: &RawPrint) {
        for (name, value) in &p.options {
            if !is_job_option(name, value) {
                self.problem(
                    &format!("output.print.options.{name}"),
                    format!("output.print.options: `{name}` is not an `lp -o NAME=VALUE` option"),
                    Some(
                        "names are letters, digits, `-`, `_`, `.`; values have no spaces or quotes"
                            .into(),
                    ),
                );
            }
        }
    }
}
