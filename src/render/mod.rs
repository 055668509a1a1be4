//! Sheets: typst templates rendered in-process to PDF and PNG.
//!
//! The user sheet hands a person their account; the PC sheet labels a machine with the QR code
//! of its MAC. Templates are typst files that non-developers edit (see `templates/README.md`);
//! the built-in ones are compiled into the binary.
//!
//! A sheet's values reach its template only as data: the virtual file `data.json` (read with
//! `json("data.json")`) and, when the data has a `qr` field, `qr.svg`. Nothing is pasted into
//! typst source, so a hostname such as `#panic("x")` prints as written.
//!
//! This module owns the typst world ([`world`]), the QR code, sheet files and `rdplay preview`.
//! It must not know about SSH or the inventory: the engine hands it [`UserSheet`] and
//! [`PcSheet`] values and gets paths back.

mod compile;
mod error;
pub mod layout;
mod merge;
mod output;
mod qr;
mod world;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{Value, json};

pub use compile::PNG_DPI;
pub use error::{RenderError, TemplateError};
pub use output::remove_user_sheets;
pub use world::{LANGUAGES, is_lang_code};

use compile::Compiled;
use world::Template;

/// Everything a user sheet shows. `password` is the account's new password, in clear on the sheet.
#[derive(Debug, Clone)]
pub struct UserSheet {
    /// The new account's name, e.g. `USERSS006-1291`.
    pub username: String,
    /// The new account's password.
    pub password: crate::secret::Secret,
    /// The request (ticket) number the account was made for.
    pub request: String,
    /// The run's date, `YYYY-MM-DD`; also typst's `datetime.today()`.
    pub date: String,
    /// The site (school, office) from the playbook.
    pub site: String,
    /// The PC the account lives on.
    pub hostname: String,
    /// That PC's number, kept for good by the inventory.
    pub number: u32,
    /// The PC's IP address.
    pub ip: String,
    /// The PC's MAC address, colon form.
    pub mac: String,
    /// The account's login shell.
    pub shell: String,
    /// What the PC reported about itself.
    pub facts: crate::facts::Facts,
    /// The day of a reprint from escrow (`rdplay reprint`), `YYYY-MM-DD`; `None` for the original.
    pub reprint: Option<String>,
}

/// Everything a PC sheet (the label stuck on the machine) shows.
#[derive(Debug, Clone)]
pub struct PcSheet {
    /// The PC's hostname.
    pub hostname: String,
    /// The PC's number, kept for good by the inventory.
    pub number: u32,
    /// The PC's IP address.
    pub ip: String,
    /// The PC's MAC address, colon form; names the file (`pcs/<mac without colons>.pdf`).
    pub mac: String,
    /// The QR code's content (the MAC in colon form by default).
    pub qr: String,
    /// The request (ticket) number of the run.
    pub request: String,
    /// The run's date, `YYYY-MM-DD`.
    pub date: String,
    /// The site from the playbook.
    pub site: String,
    /// The account now on the PC.
    pub username: String,
    /// What the PC reported about itself.
    pub facts: crate::facts::Facts,
}

/// An output format of a sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// PDF with the fonts embedded and a text layer.
    Pdf,
    /// PNG at [`PNG_DPI`].
    Png,
}

impl Format {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Png => "png",
        }
    }

    /// The format named by a path's extension (`.pdf` or `.png`, any case).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pdf" => Some(Format::Pdf),
            "png" => Some(Format::Png),
            _ => None,
        }
    }
}

/// What a template draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The user sheet (account name and password).
    User,
    /// The PC sheet (label with the QR code of the MAC).
    Pc,
    /// A sheet of sticky labels, one per PC (`data.labels`, `data.layout`, `qr-N.svg`).
    Labels,
    /// Slips to cut, several accounts per page (`data.slips`).
    Slips,
}

impl Kind {
    /// `user-sheet` or `pc-sheet`: the stem of the template and sample files.
    pub fn stem(self) -> &'static str {
        match self {
            Kind::User => "user-sheet",
            Kind::Pc => "pc-sheet",
            Kind::Labels => "pc-labels",
            Kind::Slips => "user-slips",
        }
    }

    /// The built-in template's source.
    pub fn builtin_template(self) -> &'static str {
        match self {
            Kind::User => USER_TEMPLATE,
            Kind::Pc => PC_TEMPLATE,
            Kind::Labels => LABELS_TEMPLATE,
            Kind::Slips => SLIPS_TEMPLATE,
        }
    }

    /// The built-in sample data (JSON), holding every field a real run provides.
    pub fn builtin_sample(self) -> &'static str {
        match self {
            Kind::User => USER_SAMPLE,
            Kind::Pc => PC_SAMPLE,
            Kind::Labels => LABELS_SAMPLE,
            Kind::Slips => SLIPS_SAMPLE,
        }
    }
}

const USER_TEMPLATE: &str = include_str!("../../templates/user-sheet.typ");
const PC_TEMPLATE: &str = include_str!("../../templates/pc-sheet.typ");
const USER_SAMPLE: &str = include_str!("../../templates/sample/user-sheet.json");
const PC_SAMPLE: &str = include_str!("../../templates/sample/pc-sheet.json");
const LABELS_TEMPLATE: &str = include_str!("../../templates/pc-labels.typ");
const SLIPS_TEMPLATE: &str = include_str!("../../templates/user-slips.typ");
const LABELS_SAMPLE: &str = include_str!("../../templates/sample/pc-labels.json");
const SLIPS_SAMPLE: &str = include_str!("../../templates/sample/user-slips.json");
const TEMPLATES_README: &str = include_str!("../../templates/README.md");

static DEFAULT_FILES: [(&str, &str); 11] = [
    ("templates/user-sheet.typ", USER_TEMPLATE),
    ("templates/pc-sheet.typ", PC_TEMPLATE),
    ("templates/pc-labels.typ", LABELS_TEMPLATE),
    ("templates/user-slips.typ", SLIPS_TEMPLATE),
    ("templates/sample/user-sheet.json", USER_SAMPLE),
    ("templates/sample/pc-sheet.json", PC_SAMPLE),
    ("templates/sample/pc-labels.json", LABELS_SAMPLE),
    ("templates/sample/user-slips.json", SLIPS_SAMPLE),
    ("templates/lang/en.json", world::LANGUAGES[0].1),
    ("templates/lang/fr.json", world::LANGUAGES[1].1),
    ("templates/README.md", TEMPLATES_README),
];

/// The built-in templates, their sample data and guide, as `(path relative to the directory
/// `rdplay init` writes into, contents)`.
pub fn default_template_files() -> &'static [(&'static str, &'static str)] {
    &DEFAULT_FILES
}

/// Where [`Renderer::user_sheet`] writes the user sheet of `username` in `format`.
pub fn user_sheet_path(
    out_dir: &Path,
    username: &str,
    format: Format,
) -> Result<PathBuf, RenderError> {
    output::check_username(username)?;
    Ok(out_dir
        .join("users")
        .join(format!("{username}.{}", format.extension())))
}

/// Where [`Renderer::pc_sheet`] writes the PC sheet of the PC with `mac` in `format`.
pub fn pc_sheet_path(out_dir: &Path, mac: &str, format: Format) -> Result<PathBuf, RenderError> {
    let stem = output::mac_stem(mac)?;
    Ok(out_dir
        .join("pcs")
        .join(format!("{stem}.{}", format.extension())))
}

/// Renders sheets. Built once per run (templates parsed once, fonts loaded once per process)
/// and shared by all threads: it is `Send + Sync`.
pub struct Renderer {
    user: Template,
    pc: Template,
    labels: Template,
    slips: Template,
}

impl Renderer {
    /// Loads the user and PC templates; `None` uses the built-in template compiled into rdplay.
    pub fn new(
        user_template: Option<&Path>,
        pc_template: Option<&Path>,
    ) -> Result<Renderer, RenderError> {
        world::warm_up();
        Ok(Renderer {
            user: load_template(Kind::User, user_template)?,
            pc: load_template(Kind::Pc, pc_template)?,
            labels: load_template(Kind::Labels, None)?,
            slips: load_template(Kind::Slips, None)?,
        })
    }

    /// Prints the templates' fixed words (and dates) in language `code` (`en`, `fr`...).
    pub fn with_lang(mut self, code: &str) -> Result<Renderer, RenderError> {
        for template in [
            &mut self.user,
            &mut self.pc,
            &mut self.labels,
            &mut self.slips,
        ] {
            template
                .set_lang(code)
                .map_err(|searched| RenderError::Language {
                    template: template.display.clone(),
                    lang: code.to_string(),
                    searched,
                })?;
        }
        Ok(self)
    }

    /// Uses these templates for label sheets and slips; `None` keeps the built-in one.
    pub fn with_layouts(
        mut self,
        labels: Option<&Path>,
        slips: Option<&Path>,
    ) -> Result<Renderer, RenderError> {
        if labels.is_some() {
            self.labels = load_template(Kind::Labels, labels)?;
        }
        if slips.is_some() {
            self.slips = load_template(Kind::Slips, slips)?;
        }
        Ok(self)
    }

    /// Writes one PDF of PC labels laid out on `grid`, the first `start - 1` labels of the first
    /// sheet left empty (already used), to `path` (0600). Laid out a few whole sheets of labels at a
    /// time (at least [`BATCH_PART`] labels) and the parts joined: 1,000 labels take the memory of
    /// one part.
    pub fn pc_labels(
        &self,
        sheets: &[PcSheet],
        grid: &layout::Grid,
        start: u32,
        path: &Path,
    ) -> Result<(), RenderError> {
        let per_page = (grid.per_page() as usize).max(1);
        let used = start.max(1) as usize - 1;
        let part = per_page * BATCH_PART.div_ceil(per_page);
        let date = sheets.first().map(|s| s.date.as_str());
        let layout = |labels: &[PcSheet], start: usize, first: bool| {
            let data = json!({
                "layout": grid,
                "start": start,
                "labels": labels.iter().map(pc_data).collect::<Vec<_>>(),
                "date": date,
            });
            layout_part(&self.labels, &data, first)
        };
        // The first part fills its sheets after the used labels; the others start on a new sheet.
        let first_len = part.saturating_sub(used).min(sheets.len());
        if first_len == 0 || first_len == sheets.len() {
            return write_whole(&self.labels, &layout(sheets, used + 1, true)?, path);
        }
        let (first, rest) = sheets.split_at(first_len);
        let parts = std::iter::once(layout(first, used + 1, true))
            .chain(rest.chunks(part).map(|labels| layout(labels, 1, false)))
            .map(|part| compile::pdf_of(&self.labels, &part?.document, false));
        write_joined(parts, path)
    }

    /// Writes one PDF of account slips, several per page, to `path` (0600). A slips template that
    /// declares how many slips it puts on a page (`#metadata(per-page) <slips-per-page>`, as the
    /// built-in one does) is laid out a few pages at a time and the parts joined; any other is laid
    /// out whole (a part must end on a full page).
    pub fn user_slips(&self, sheets: &[UserSheet], path: &Path) -> Result<(), RenderError> {
        let date = sheets.first().map(|s| s.date.as_str());
        let layout = |slips: &[UserSheet], first: bool| {
            let data = json!({
                "slips": slips.iter().map(user_data).collect::<Vec<_>>(),
                "date": date,
            });
            let laid_out = layout_part(&self.slips, &data, first);
            wipe(data);
            laid_out
        };
        let whole = |slips: &[UserSheet]| write_whole(&self.slips, &layout(slips, true)?, path);
        if sheets.len() <= BATCH_PART {
            return whole(sheets);
        }
        // One slip, to read what the template declares (its warnings are the first part's).
        let declared = layout(&sheets[..1], false)?;
        let Some(per_page) = compile::declared_count(&declared.document, "slips-per-page") else {
            return whole(sheets);
        };
        drop(declared);
        let parts = sheets
            .chunks(per_page * BATCH_PART.div_ceil(per_page))
            .enumerate()
            .map(|(i, slips)| {
                compile::pdf_of(&self.slips, &layout(slips, i == 0)?.document, false)
            });
        write_joined(parts, path)
    }

    /// Writes `<out>/users/<username>.pdf|png` ([`user_sheet_path`]); returns the paths written.
    pub fn user_sheet(
        &self,
        data: &UserSheet,
        formats: &[Format],
        out_dir: &Path,
    ) -> Result<Vec<PathBuf>, RenderError> {
        user_sheet_path(out_dir, &data.username, Format::Pdf)?;
        let compiled = self.compile_user(data, formats)?;
        write_all(&out_dir.join("users"), &data.username, compiled)
    }

    /// Writes `<out>/pcs/<mac without colons>.pdf|png` ([`pc_sheet_path`]); returns the paths
    /// written.
    pub fn pc_sheet(
        &self,
        data: &PcSheet,
        formats: &[Format],
        out_dir: &Path,
    ) -> Result<Vec<PathBuf>, RenderError> {
        let stem = output::mac_stem(&data.mac)?;
        let compiled = self.compile_pc(data, formats)?;
        write_all(&out_dir.join("pcs"), &stem, compiled)
    }

    /// Writes one PDF of all `sheets`, in order, to `path` (e.g. `<out>/users.pdf`).
    pub fn user_batch(&self, sheets: &[UserSheet], path: &Path) -> Result<(), RenderError> {
        write_batch(&self.user, sheets, |s| self.compile_user(s, &[]), path)
    }

    /// Writes one PDF of all PC `sheets`, in order, to `path` (e.g. `<out>/pcs.pdf`).
    pub fn pc_batch(&self, sheets: &[PcSheet], path: &Path) -> Result<(), RenderError> {
        write_batch(&self.pc, sheets, |s| self.compile_pc(s, &[]), path)
    }

    /// Compiles both templates with the built-in sample data and exports them to PDF, writing
    /// nothing (for `rdplay validate`).
    pub fn check(&self) -> Result<(), RenderError> {
        for (template, kind) in [
            (&self.user, Kind::User),
            (&self.pc, Kind::Pc),
            (&self.labels, Kind::Labels),
            (&self.slips, Kind::Slips),
        ] {
            let data: Value =
                serde_json::from_str(kind.builtin_sample()).map_err(|e| RenderError::BadData {
                    path: format!("<built-in>/sample/{}.json", kind.stem()).into(),
                    reason: e.to_string(),
                })?;
            compile::compile(template, &data, &[Format::Pdf], None)?;
        }
        Ok(())
    }

    fn compile_user(&self, sheet: &UserSheet, formats: &[Format]) -> Result<Compiled, RenderError> {
        let data = user_data(sheet);
        let compiled = compile::compile(&self.user, &data, formats, Some(sheet.password.expose()));
        wipe(data);
        age_caches();
        compiled.inspect(|c| log_warnings(&self.user, c))
    }

    fn compile_pc(&self, sheet: &PcSheet, formats: &[Format]) -> Result<Compiled, RenderError> {
        let data = pc_data(sheet);
        let compiled = compile::compile(&self.pc, &data, formats, None);
        age_caches();
        compiled.inspect(|c| log_warnings(&self.pc, c))
    }
}

/// A user sheet's values as its template sees them in `data` (the password in clear: wipe it).
fn user_data(sheet: &UserSheet) -> Value {
    json!({
        "username": sheet.username,
        "password": sheet.password.expose(),
        "request": sheet.request,
        "date": sheet.date,
        "site": sheet.site,
        "hostname": sheet.hostname,
        "number": sheet.number,
        "ip": sheet.ip,
        "mac": sheet.mac,
        "shell": sheet.shell,
        "reprint": sheet.reprint,
        "facts": sheet.facts,
    })
}

/// A PC sheet's values as its template sees them in `data`.
fn pc_data(sheet: &PcSheet) -> Value {
    json!({
        "hostname": sheet.hostname,
        "number": sheet.number,
        "ip": sheet.ip,
        "mac": sheet.mac,
        "qr": sheet.qr,
        "request": sheet.request,
        "date": sheet.date,
        "site": sheet.site,
        "username": sheet.username,
        "facts": sheet.facts,
    })
}

/// Compiles a `kind` template (`None`: the built-in one) with any data, for `rdplay preview`: the
/// file in `format`, byte for byte what a run writes for the same template, data and language.
pub(crate) fn preview(
    kind: Kind,
    template: Option<&Path>,
    data: &Value,
    format: Format,
    lang: &str,
) -> Result<(Vec<u8>, Vec<String>), RenderError> {
    let mut compiled = preview_compile(kind, template, data, &[format], lang)?;
    let bytes = compiled
        .files
        .pop()
        .map(|(_, bytes)| bytes)
        .unwrap_or_default();
    Ok((bytes, compiled.warnings))
}

/// One page of a sheet drawn for the live preview (`rdplay preview --serve`).
#[derive(Debug, Clone)]
pub struct PagePicture {
    /// The page as SVG, drawn by typst's own SVG export.
    pub svg: String,
    /// Its width in points (1/72 inch): shown at this size, the page is at real size.
    pub width_pt: f64,
    /// Its height in points.
    pub height_pt: f64,
    /// The text on the page, in reading order (the picture's alternative text).
    pub text: String,
}

/// Compiles a sheet as [`preview`] does and draws its pages as SVG; with typst's warnings.
pub(crate) fn preview_pages(
    kind: Kind,
    template: Option<&Path>,
    data: &Value,
    lang: &str,
) -> Result<(Vec<PagePicture>, Vec<String>), RenderError> {
    let compiled = preview_compile(kind, template, data, &[], lang)?;
    let pages = compiled
        .document
        .pages
        .iter()
        .map(compile::picture)
        .collect();
    // A preview server compiles again and again: keep what the last few renders share only.
    age_caches();
    Ok((pages, compiled.warnings))
}

/// The one compile behind [`preview`] and [`preview_pages`].
fn preview_compile(
    kind: Kind,
    template: Option<&Path>,
    data: &Value,
    formats: &[Format],
    lang: &str,
) -> Result<Compiled, RenderError> {
    world::warm_up();
    let mut template = load_template(kind, template)?;
    template
        .set_lang(lang)
        .map_err(|searched| RenderError::Language {
            template: template.display.clone(),
            lang: lang.to_string(),
            searched,
        })?;
    compile::compile(&template, data, formats, None)
}

pub(crate) use output::write_file;

fn load_template(kind: Kind, path: Option<&Path>) -> Result<Template, RenderError> {
    match path {
        Some(path) => Template::from_path(path).map_err(|source| RenderError::ReadTemplate {
            path: path.to_path_buf(),
            source,
        }),
        None => {
            let name = format!("{}.typ", kind.stem());
            Ok(Template::new(
                format!("<built-in>/{name}").into(),
                &name,
                kind.builtin_template().into(),
                None,
            ))
        }
    }
}

fn write_all(dir: &Path, stem: &str, compiled: Compiled) -> Result<Vec<PathBuf>, RenderError> {
    output::create_dir(dir)?;
    let mut paths = Vec::with_capacity(compiled.files.len());
    for (format, bytes) in compiled.files {
        let path = dir.join(format!("{stem}.{}", format.extension()));
        output::write_file(&path, &bytes)?;
        paths.push(path);
    }
    Ok(paths)
}

/// How many sheets of a batch file are laid out at once. typst keeps a document's pages in memory
/// until it is exported (about 200 kB a sheet), so a batch is exported in parts of this many
/// sheets and the parts joined ([`merge`]): 1,000 sheets take the memory of 50.
const BATCH_PART: usize = 50;

/// Compiles `sheets` with `compile`, in parts of [`BATCH_PART`], and writes them as one PDF.
fn write_batch<S: Sync>(
    template: &Template,
    sheets: &[S],
    compile: impl Fn(&S) -> Result<Compiled, RenderError> + Sync,
    path: &Path,
) -> Result<(), RenderError> {
    let part = |sheets: &[S]| {
        let documents = sheets
            .par_iter()
            .map(|sheet| compile(sheet).map(|c| compile::Pages::from(c.document)))
            .collect::<Result<Vec<_>, _>>()?;
        compile::batch_pdf(template, documents)
    };
    let mut parts = sheets.chunks(BATCH_PART).peekable();
    if parts.peek().is_none() {
        return write_joined(std::iter::once(part(&[])), path);
    }
    write_joined(parts.map(part), path)
}

/// Writes a document laid out in one piece as a tagged PDF at `path`.
fn write_whole(template: &Template, whole: &Compiled, path: &Path) -> Result<(), RenderError> {
    write_joined(
        std::iter::once(compile::pdf_of(template, &whole.document, true)),
        path,
    )
}

/// Writes PDF `parts`, produced one after the other, as one PDF at `path`: the first as it is when
/// it is the only one, else all joined ([`merge`]).
fn write_joined(
    mut parts: impl Iterator<Item = Result<Vec<u8>, RenderError>>,
    path: &Path,
) -> Result<(), RenderError> {
    let first = parts.next().unwrap_or_else(|| Ok(Vec::new()))?;
    let rest = parts.collect::<Result<Vec<_>, _>>()?;
    let bytes = if rest.is_empty() {
        first
    } else {
        merge::merge(&first, &rest).map_err(|e| RenderError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(format!("joining the parts of the batch: {e}")),
        })?
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        output::create_dir(parent)?;
    }
    output::write_file(path, &bytes)
}

impl Drop for Renderer {
    /// Empties typst's memoization caches: they hold laid-out sheets, passwords included.
    fn drop(&mut self) {
        typst::comemo::evict(0);
    }
}

/// Lays out one part of a long document (label sheets, slips), logging typst's warnings for the
/// first part only (the others repeat them). A document of several parts is written untagged, as
/// the batch files are: each part's structure tree would describe its own pages only.
fn layout_part(template: &Template, data: &Value, first: bool) -> Result<Compiled, RenderError> {
    let laid_out = compile::compile(template, data, &[], None);
    forget_part();
    laid_out.inspect(|c| {
        if first {
            log_warnings(template, c)
        }
    })
}

/// Empties typst's caches after a part of a long document: they would keep the last ten parts'
/// layouts (the sheets' caches are aged instead, [`age_caches`], to keep what sheets share).
fn forget_part() {
    typst::comemo::evict(0);
}

/// Ages typst's memoization caches after each sheet, so a run over many PCs keeps only what the
/// recent sheets used (the template's layout) instead of every sheet's pages.
fn age_caches() {
    typst::comemo::evict(10);
}

fn log_warnings(template: &Template, compiled: &Compiled) {
    for warning in &compiled.warnings {
        tracing::warn!(template = %template.display.display(), "{warning}");
    }
}

/// Overwrites the strings of a JSON value (the password among them) before freeing it.
fn wipe(value: Value) {
    fn walk(value: Value) {
        match value {
            Value::String(s) => drop(crate::secret::Secret::new(s)),
            Value::Array(items) => items.into_iter().for_each(walk),
            Value::Object(map) => map.into_iter().for_each(|(_, v)| walk(v)),
            _ => {}
        }
    }
    walk(value);
}
