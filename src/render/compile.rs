//! One sheet through typst: data in, a laid-out document out, then PDF or PNG bytes.

use std::panic::{AssertUnwindSafe, catch_unwind};

use resvg::tiny_skia::Pixmap;
use serde_json::Value;
use typst::layout::PagedDocument;

use super::error::{TemplateError, format_warnings};
use super::world::{SheetWorld, Template};
use super::{Format, RenderError, qr};

/// PNG resolution in dots per inch (typst's unit is the point, 1/72 inch).
pub const PNG_DPI: f32 = 200.0;

/// A compiled sheet and the files it was asked for.
pub struct Compiled {
    /// The laid-out pages (kept for batch files).
    pub document: PagedDocument,
    /// `(format, bytes)` in the order asked.
    pub files: Vec<(Format, Vec<u8>)>,
    /// typst's warnings, formatted.
    pub warnings: Vec<String>,
}

/// Compiles `template` with `data` (served as `data.json`; its `qr` field, when a string, becomes
/// `qr.svg`) and exports `formats`. `redact` is masked in error messages.
pub fn compile(
    template: &Template,
    data: &Value,
    formats: &[Format],
    redact: Option<&str>,
) -> Result<Compiled, RenderError> {
    let qr = match data.get("qr") {
        Some(Value::String(content)) => Some(qr::svg(content)?),
        _ => None,
    };
    let json = serde_json::to_vec(data).map_err(|e| RenderError::BadData {
        path: template.display.clone(),
        reason: e.to_string(),
    })?;
    // A sheet of labels: one QR code per label.
    let qrs = match data.get("labels") {
        Some(Value::Array(labels)) => labels
            .iter()
            .map(|l| qr::svg(l.get("qr").and_then(Value::as_str).unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let date = data.get("date").and_then(Value::as_str);
    let world = SheetWorld::new(template, json, qr, date).with_qrs(qrs);
    let warned = guard(template, redact, || typst::compile::<PagedDocument>(&world))?;
    let warnings = format_warnings(template, &world, &warned.warnings, redact);
    // typst only warns of a font it does not have, and falls back to another: on a sheet people
    // print, a font that silently changes is an error.
    if let Some((i, family)) = warned.warnings.iter().enumerate().find_map(|(i, w)| {
        w.message
            .strip_prefix("unknown font family: ")
            .map(|f| (i, f.to_string()))
    }) {
        let where_ = warnings
            .get(i)
            .and_then(|w| w.lines().find(|l| l.trim_start().starts_with("-->")))
            .map(|l| l.trim_start().trim_start_matches("-->").trim().to_string())
            .unwrap_or_else(|| template.display.display().to_string());
        return Err(RenderError::UnknownFont {
            where_,
            family,
            searched: template.font_places(),
            available: template.fonts().families(),
        });
    }
    let document = warned.output.map_err(|errors| {
        RenderError::Template(TemplateError::new(template, &world, &errors, redact))
    })?;
    let mut files = Vec::with_capacity(formats.len());
    for &format in formats {
        let bytes = match format {
            Format::Pdf => guard(template, redact, || pdf(&document, true))?.map_err(|errors| {
                RenderError::Template(TemplateError::new(template, &world, &errors, redact))
            })?,
            Format::Png => guard(template, redact, || png(&document))??,
        };
        files.push((format, bytes));
    }
    Ok(Compiled {
        document,
        files,
        warnings,
    })
}

/// A compiled sheet's pages and details, without its introspector (the index of its elements for
/// queries, as large as the pages themselves): what a batch file keeps of each sheet.
pub struct Pages {
    pages: Vec<typst::layout::Page>,
    info: typst::model::DocumentInfo,
}

impl From<PagedDocument> for Pages {
    fn from(document: PagedDocument) -> Pages {
        Pages {
            pages: document.pages,
            info: document.info,
        }
    }
}

/// The whole number a template declares under `label` (`#metadata(4) <slips-per-page>`), if it
/// declares one of at least 1.
pub fn declared_count(document: &PagedDocument, label: &str) -> Option<usize> {
    let label = typst::foundations::Label::new(typst::utils::PicoStr::intern(label))?;
    let content = document.introspector.query_label(label).ok()?;
    let metadata = content.to_packed::<typst::introspection::MetadataElem>()?;
    match &metadata.value {
        typst::foundations::Value::Int(n) if *n >= 1 => usize::try_from(*n).ok(),
        _ => None,
    }
}

/// Many compiled sheets as one PDF, pages in the given order.
pub fn batch_pdf(template: &Template, documents: Vec<Pages>) -> Result<Vec<u8>, RenderError> {
    let mut merged = PagedDocument::default();
    for document in documents {
        if merged.pages.is_empty() {
            merged.info = document.info;
        }
        merged.pages.extend(document.pages);
    }
    // The merged pages' introspection data (links, outline, tags) belongs to each sheet's own
    // document, so the batch is written untagged and without an outline.
    pdf_of(template, &merged, false)
}

/// A laid-out document of `template` as PDF, `tagged` (with its structure tree) or not.
pub fn pdf_of(
    template: &Template,
    document: &PagedDocument,
    tagged: bool,
) -> Result<Vec<u8>, RenderError> {
    guard(template, None, || pdf(document, tagged))?.map_err(|errors| {
        let world = SheetWorld::new(template, b"{}".to_vec(), None, None);
        RenderError::Template(TemplateError::new(template, &world, &errors, None))
    })
}

fn pdf(document: &PagedDocument, tagged: bool) -> typst::diag::SourceResult<Vec<u8>> {
    let options = typst_pdf::PdfOptions {
        tagged,
        ..Default::default()
    };
    typst_pdf::pdf(document, &options)
}

/// A page as SVG, with its size and its text (for `rdplay preview --serve`).
pub fn picture(page: &typst::layout::Page) -> super::PagePicture {
    let mut text = String::new();
    page_text(&page.frame, &mut text);
    let size = page.frame.size();
    super::PagePicture {
        svg: typst_svg::svg(page),
        width_pt: size.x.to_pt(),
        height_pt: size.y.to_pt(),
        text: text.trim().to_string(),
    }
}

/// The text runs of a frame, in the order typst laid them out, a space between runs.
fn page_text(frame: &typst::layout::Frame, out: &mut String) {
    for (_, item) in frame.items() {
        match item {
            typst::layout::FrameItem::Group(group) => page_text(&group.frame, out),
            typst::layout::FrameItem::Text(run) => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
                out.push_str(&run.text);
            }
            _ => {}
        }
    }
}

/// All pages, one under the other, in one PNG. typst's `render_merged` composites through
/// tiny-skia's blending pipeline (about 40 ms for an A5 page at 200 dpi); pages are opaque, so
/// copying their rows is the same picture for a fraction of the time.
fn png(document: &PagedDocument) -> Result<Vec<u8>, RenderError> {
    let encode_error = |reason: String| RenderError::Write {
        path: "PNG".into(),
        source: std::io::Error::other(reason),
    };
    let mut pages: Vec<Pixmap> = document
        .pages
        .iter()
        .map(|page| typst_render::render(page, PNG_DPI / 72.0))
        .collect();
    let pixmap = if pages.len() == 1 {
        pages.swap_remove(0)
    } else {
        let width = pages.iter().map(Pixmap::width).max().unwrap_or(1);
        let height = pages.iter().map(Pixmap::height).sum::<u32>().max(1);
        let mut canvas = Pixmap::new(width, height)
            .ok_or_else(|| encode_error(format!("{width}x{height} pixels is too large")))?;
        let row = width as usize * 4;
        let mut offset = 0;
        for page in &pages {
            let page_row = page.width() as usize * 4;
            for line in page.data().chunks_exact(page_row) {
                canvas.data_mut()[offset..offset + page_row].copy_from_slice(line);
                offset += row;
            }
        }
        canvas
    };
    pixmap.encode_png().map_err(|e| encode_error(e.to_string()))
}

/// Runs typst, turning a panic into an error so one bad sheet cannot take the run down.
fn guard<T>(
    template: &Template,
    redact: Option<&str>,
    f: impl FnOnce() -> T,
) -> Result<T, RenderError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let message = match redact.filter(|s| !s.is_empty()) {
            Some(secret) => message.replace(secret, "********"),
            None => message,
        };
        RenderError::Crashed {
            template: template.display.clone(),
            message,
        }
    })
}
