//! What the live preview shows, kept up to date: every sheet drawn again when a file it may use
//! changes (or the sample values do), the last good pages kept while a template does not compile.
//!
//! The files are watched by directory (editors save by writing a new file and renaming it over
//! the old one), recursively (images, `fonts/`, `lang/`, `sample/`), and a burst of events is
//! drawn once: [`QUIET`] after the last event, [`MOST_WAIT`] after the first at most.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde_json::{Value, json};

use super::{PreviewError, Sample, Sheet};
use crate::render::{Kind, PagePicture};

/// How long the files must be quiet after an event before the sheets are drawn again.
const QUIET: Duration = Duration::from_millis(40);
/// The longest a draw waits for the files to be quiet.
const MOST_WAIT: Duration = Duration::from_millis(150);

/// The sheets of a live preview and what each looks like now. Shared by the web server's tasks and
/// the thread that draws.
pub struct Live {
    sheets: Vec<Sheet>,
    /// The sample values of the playbook (or none), under the person's changes.
    defaults: Sample,
    state: Mutex<State>,
    /// The generation of the last draw, watched by the page's event streams.
    generation: tokio::sync::watch::Sender<u64>,
    /// Asks the drawing thread for a new draw.
    redraw: Mutex<mpsc::Sender<()>>,
}

/// What the last draw left.
struct State {
    generation: u64,
    /// The person's changes to the sample values.
    changes: Sample,
    drawn: Vec<Drawn>,
}

/// One sheet as the last draw left it.
#[derive(Default)]
struct Drawn {
    /// The pages of the last draw that compiled.
    pages: Vec<PagePicture>,
    /// The generation those pages are from (0: none yet).
    pages_generation: u64,
    /// Why the last draw did not compile, as `rdplay preview` says it.
    error: Option<String>,
    warnings: Vec<String>,
    /// The data and language of the last draw, for the PDF and `data.json`.
    data: Value,
    lang: String,
}

impl Live {
    /// Draws `sheets` a first time and starts the thread that draws them again when asked
    /// ([`Live::redraw`]); the thread ends with the last [`Live`].
    pub fn start(sheets: Vec<Sheet>, defaults: Sample) -> Arc<Live> {
        let (redraw, asked) = mpsc::channel();
        let live = Arc::new(Live {
            sheets,
            defaults,
            state: Mutex::new(State {
                generation: 0,
                changes: Sample::default(),
                drawn: Vec::new(),
            }),
            generation: tokio::sync::watch::Sender::new(0),
            redraw: Mutex::new(redraw),
        });
        live.draw();
        let weak = Arc::downgrade(&live);
        std::thread::Builder::new()
            .name("preview-draw".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    // One save is several events (write, rename, close): draw once they are over.
                    let first = Instant::now();
                    while first.elapsed() < MOST_WAIT && asked.recv_timeout(QUIET).is_ok() {}
                    match weak.upgrade() {
                        Some(live) => live.draw(),
                        None => break,
                    }
                }
            })
            .ok();
        live
    }

    /// Asks for a new draw, soon.
    pub fn redraw(&self) {
        if let Ok(redraw) = self.redraw.lock() {
            let _ = redraw.send(());
        }
    }

    /// Replaces the person's changes to the sample values, and draws again.
    pub fn set_changes(&self, changes: Sample) {
        self.lock().changes = changes;
        self.redraw();
    }

    /// A receiver told of each new generation.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// How many sheets it shows.
    pub fn len(&self) -> usize {
        self.sheets.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Draws every sheet with the current sample values, in parallel, and publishes the result.
    fn draw(&self) {
        let sample = self.defaults.with(&self.lock().changes);
        let lang = sample.lang().to_string();
        let results: Vec<_> = self
            .sheets
            .par_iter()
            .map(|sheet| {
                let data = sheet.data(&sample).map_err(|e| e.to_string());
                let pages = data.as_ref().map_err(Clone::clone).and_then(|data| {
                    crate::render::preview_pages(sheet.kind, sheet.template.as_deref(), data, &lang)
                        .map_err(|e| e.to_string())
                });
                (data.unwrap_or(Value::Null), pages)
            })
            .collect();
        let mut state = self.lock();
        state.generation += 1;
        let generation = state.generation;
        state.drawn.resize_with(self.sheets.len(), Drawn::default);
        for (drawn, (data, pages)) in state.drawn.iter_mut().zip(results) {
            drawn.data = data;
            drawn.lang = lang.clone();
            match pages {
                Ok((pages, warnings)) => {
                    // Unchanged pages keep their generation: the page does not fetch them again.
                    if drawn.pages_generation == 0 || !same_pages(&drawn.pages, &pages) {
                        drawn.pages = pages;
                        drawn.pages_generation = generation;
                    }
                    drawn.error = None;
                    drawn.warnings = warnings;
                }
                Err(error) => drawn.error = Some(error),
            }
        }
        drop(state);
        self.generation.send_replace(generation);
    }

    /// What the page shows, as JSON: the generation, the sample values (as drawn) and each sheet
    /// (its pages' sizes and text, its error and warnings).
    pub fn state_json(&self) -> Value {
        let state = self.lock();
        let sample = self.defaults.with(&state.changes);
        let sheets: Vec<Value> = self
            .sheets
            .iter()
            .zip(&state.drawn)
            .map(|(sheet, drawn)| {
                json!({
                    "title": title(sheet.kind),
                    "kind": sheet.kind.stem(),
                    "template": sheet.template.as_ref().map_or_else(
                        || format!("built into rdplay ({}.typ)", sheet.kind.stem()),
                        |t| t.display().to_string(),
                    ),
                    "file": file_name(sheet),
                    "drawn": drawn.pages_generation,
                    "pages": drawn.pages.iter().map(|p| json!({
                        "width": p.width_pt,
                        "height": p.height_pt,
                        "text": p.text,
                    })).collect::<Vec<_>>(),
                    "error": drawn.error,
                    "warnings": drawn.warnings,
                })
            })
            .collect();
        json!({
            "generation": state.generation,
            "sample": shown(&sample, &state.drawn),
            "changes": state.changes,
            "languages": crate::render::LANGUAGES.map(|(code, _)| code),
            "sheets": sheets,
        })
    }

    /// Page `page` (from 1) of sheet `sheet` as SVG, from its last good draw.
    pub fn page_svg(&self, sheet: usize, page: usize) -> Option<String> {
        let state = self.lock();
        let drawn = state.drawn.get(sheet)?;
        Some(drawn.pages.get(page.checked_sub(1)?)?.svg.clone())
    }

    /// Sheet `sheet`'s data as last drawn, with its language and file name: what its PDF is made
    /// from.
    pub fn sheet_data(&self, sheet: usize) -> Option<(Sheet, Value, String, String)> {
        let state = self.lock();
        let drawn = state.drawn.get(sheet)?;
        let which = self.sheets.get(sheet)?;
        Some((
            which.clone(),
            drawn.data.clone(),
            drawn.lang.clone(),
            file_name(which),
        ))
    }
}

fn same_pages(a: &[PagePicture], b: &[PagePicture]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.svg == b.svg)
}

/// The sheet's name on the page.
fn title(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "User sheet",
        Kind::Pc => "PC sheet",
        Kind::Labels => "PC labels",
        Kind::Slips => "Account slips",
    }
}

/// The name of its PDF: the template's, else the kind's (`user-sheet.pdf`).
fn file_name(sheet: &Sheet) -> String {
    let stem = sheet
        .template
        .as_deref()
        .and_then(Path::file_stem)
        .map_or_else(
            || sheet.kind.stem().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
    format!("{stem}.pdf")
}

/// The sample values as the sheets show them: the values set, else those of the sample data.
fn shown(sample: &Sample, drawn: &[Drawn]) -> Value {
    // The first sheet, label or slip that has the field.
    let find = |key: &str| {
        drawn.iter().find_map(|d| {
            let one = |v: &Value| v.get(key).and_then(Value::as_str).map(str::to_string);
            one(&d.data).or_else(|| {
                ["slips", "labels"]
                    .iter()
                    .find_map(|list| d.data.get(list)?.get(0).and_then(one))
            })
        })
    };
    let count = |key: &str| {
        drawn
            .iter()
            .find_map(|d| d.data.get(key)?.as_array().map(Vec::len))
    };
    json!({
        "username": sample.username.clone().or_else(|| find("username")),
        "password": sample.password.clone().or_else(|| find("password")),
        "hostname": sample.hostname.clone().or_else(|| find("hostname")),
        "site": sample.site.clone().or_else(|| find("site")),
        "labels": count("labels"),
        "slips": count("slips"),
        "lang": sample.lang(),
    })
}

/// Watches the directories of the templates; every change to a file in them asks for a draw.
/// `None` when every sheet is a built-in template (no file to watch).
pub fn watch(live: &Arc<Live>) -> Result<Option<notify::RecommendedWatcher>, PreviewError> {
    use notify::Watcher;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for template in live.sheets.iter().filter_map(|s| s.template.as_deref()) {
        let dir = template
            .canonicalize()
            .ok()
            .and_then(|t| t.parent().map(Path::to_path_buf))
            .ok_or_else(|| PreviewError::Watch {
                path: template.to_path_buf(),
                reason: "cannot find its directory".into(),
            })?;
        if !dirs.iter().any(|d| dir.starts_with(d)) {
            dirs.retain(|d| !d.starts_with(&dir));
            dirs.push(dir);
        }
    }
    if dirs.is_empty() {
        return Ok(None);
    }
    let weak = Arc::downgrade(live);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let changed = match event {
            Ok(event) => changes_a_file(&event),
            // Events were lost (the queue overflowed): draw again to be sure.
            Err(_) => true,
        };
        if let (true, Some(live)) = (changed, weak.upgrade()) {
            live.redraw();
        }
    })
    .map_err(|e| PreviewError::Watch {
        path: dirs[0].clone(),
        reason: e.to_string(),
    })?;
    for dir in &dirs {
        watcher
            .watch(dir, notify::RecursiveMode::Recursive)
            .map_err(|e| PreviewError::Watch {
                path: dir.clone(),
                reason: e.to_string(),
            })?;
    }
    Ok(Some(watcher))
}

/// Whether an event changes what a sheet may read: a file written, created, renamed or removed,
/// other than an editor's own (swap and backup files, hidden files). Reads (the draws' own) and
/// changes of metadata are not.
fn changes_a_file(event: &notify::Event) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    let kind = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    };
    kind && event.paths.iter().any(|path| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        !(name.starts_with('.')
            || name.ends_with('~')
            || name.ends_with(".swp")
            || name.ends_with(".swx")
            || name == "4913")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
    use notify::{Event, EventKind};

    #[test]
    fn saves_count_and_reads_and_editor_files_do_not() {
        let event = |kind, paths: &[&str]| {
            let mut event = Event::new(kind);
            for path in paths {
                event = event.add_path(PathBuf::from(path));
            }
            changes_a_file(&event)
        };
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        assert!(event(
            rename,
            &["/t/.user-sheet.typ.tmp", "/t/user-sheet.typ"]
        ));
        assert!(event(EventKind::Create(CreateKind::File), &["/t/logo.png"]));
        assert!(event(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            &["/t/user-sheet.typ"]
        ));
        assert!(!event(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            &["/t/user-sheet.typ"]
        ));
        assert!(!event(
            EventKind::Create(CreateKind::File),
            &["/t/.user-sheet.typ.swp"]
        ));
        assert!(!event(
            EventKind::Create(CreateKind::File),
            &["/t/user-sheet.typ~"]
        ));
    }
}
