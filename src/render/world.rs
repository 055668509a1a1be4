//! The typst [`World`] of one sheet: embedded fonts, one template, its data, nothing else.
//!
//! Mirrors typst's own CLI (`crates/typst-cli/src/world.rs`), minus what a sheet must not have:
//! no system fonts (the same output on every machine), no packages, no network, no clock (today
//! is the sheet's date), and no file outside the template's directory.
//!
//! [`Template`] holds what does not change between sheets (the parsed template, files read from
//! its directory); [`SheetWorld`] adds one sheet's data (`data.json`) and QR code (`qr.svg`) as
//! virtual files. Fonts and the standard library are loaded once per process and shared.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, RwLock};

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, Source, VirtualPath};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// The virtual file holding the sheet's data as JSON; templates read it with `json("data.json")`.
pub const DATA_FILE: &str = "data.json";
/// The virtual file holding the QR code of the sheet's `qr` field as SVG.
pub const QR_FILE: &str = "qr.svg";

/// The virtual file holding the fixed words in the sheet's language (`lang/<code>.json`).
pub const WORDS_FILE: &str = "words.json";
/// The directory beside a template holding its languages' words, `<code>.json`.
pub const LANG_DIR: &str = "lang";

/// The languages built into rdplay: `(code, words as JSON)`. Adding one is a file in
/// templates/lang/ and a line here (or, for a site, a file in its templates' lang/ directory).
pub static LANGUAGES: [(&str, &str); 2] = [
    ("en", include_str!("../../templates/lang/en.json")),
    ("fr", include_str!("../../templates/lang/fr.json")),
];

/// Whether `code` can name a language: 2 or 3 lower-case ASCII letters (`en`, `fr`, `oc`).
pub fn is_lang_code(code: &str) -> bool {
    (2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase())
}

/// The directory beside a template whose fonts it may use, besides the built-in ones.
pub const FONTS_DIR: &str = "fonts";

/// The sans-serif shipped with rdplay (DejaVu Sans, from Debian's fonts-dejavu-core; licence in
/// assets/fonts/DejaVu-LICENSE): typst-assets has serif and monospace fonts only.
static SANS: [&[u8]; 2] = [
    include_bytes!("../../assets/fonts/DejaVuSans.ttf"),
    include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf"),
];

/// A set of fonts and its index, as a world serves them.
pub struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

impl Fonts {
    fn new(fonts: Vec<Font>) -> Fonts {
        Fonts {
            book: LazyHash::new(FontBook::from_fonts(&fonts)),
            fonts,
        }
    }

    /// The family names, sorted, each once (for messages).
    pub fn families(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .book
            .families()
            .map(|(name, _)| name.to_string())
            .collect();
        names.dedup();
        names
    }
}

/// The fonts built into rdplay (typst-assets and the shipped sans-serif), parsed once per process.
static FONTS: LazyLock<Fonts> = LazyLock::new(|| Fonts::new(builtin_fonts()));

fn builtin_fonts() -> Vec<Font> {
    typst_assets::fonts()
        .chain(SANS)
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect()
}

/// The built-in fonts plus the font files (`.ttf`, `.otf`, `.ttc`, `.otc`) of `dir`; `None` when
/// `dir` holds none. Never the machine's fonts: the same sheet on every machine.
fn fonts_with(dir: &Path) -> std::io::Result<Option<Fonts>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    files.retain(|f| {
        f.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["ttf", "otf", "ttc", "otc"].contains(&e.to_ascii_lowercase().as_str())
        })
    });
    if files.is_empty() {
        return Ok(None);
    }
    files.sort();
    let mut fonts = builtin_fonts();
    for file in files {
        let data = std::fs::read(&file)?;
        let before = fonts.len();
        fonts.extend(Font::iter(Bytes::new(data)));
        if fonts.len() == before {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not a font typst can read", file.display()),
            ));
        }
    }
    Ok(Some(Fonts::new(fonts)))
}

static LIBRARY: LazyLock<LazyHash<Library>> =
    LazyLock::new(|| LazyHash::new(Library::builder().build()));

/// Loads the fonts and the standard library now rather than during the first sheet.
pub fn warm_up() {
    LazyLock::force(&FONTS);
    LazyLock::force(&LIBRARY);
}

/// A parsed template and the directory it may read files from.
pub struct Template {
    /// How errors name the template file (the path as given, or `<built-in>/NAME`).
    pub display: PathBuf,
    /// The directory files are read from; `None` for the built-in templates (no files at all).
    root: Option<PathBuf>,
    main: Source,
    /// Files read from `root`, kept for the next sheets (a logo is read once per run).
    files: RwLock<HashMap<FileId, FileResult<Bytes>>>,
    /// The built-in fonts plus those of `root/fonts/`, when it has any.
    fonts: Option<Fonts>,
    /// The fixed words in the sheet's language, served as `words.json` (English by default).
    words: Bytes,
}

impl Template {
    /// A template from its text. `root` is the template's directory (already canonical).
    pub fn new(display: PathBuf, name: &str, text: String, root: Option<PathBuf>) -> Template {
        let main = Source::new(FileId::new(None, VirtualPath::new(name)), text);
        Template {
            display,
            root,
            main,
            files: RwLock::new(HashMap::new()),
            fonts: None,
            words: Bytes::from_string(LANGUAGES[0].1),
        }
    }

    /// Uses the words of language `code`: `lang/<code>.json` beside the template when it exists,
    /// else the built-in language. `Err`: the places searched.
    pub fn set_lang(&mut self, code: &str) -> Result<(), Vec<String>> {
        let mut searched = Vec::new();
        if is_lang_code(code) {
            if let Some(root) = &self.root {
                let file = root.join(LANG_DIR).join(format!("{code}.json"));
                if let Ok(bytes) = std::fs::read(&file) {
                    self.words = Bytes::new(bytes);
                    return Ok(());
                }
                searched.push(file.display().to_string());
            }
            if let Some((_, words)) = LANGUAGES.iter().find(|(c, _)| *c == code) {
                self.words = Bytes::from_string(*words);
                return Ok(());
            }
        }
        searched.push(format!(
            "the languages built into rdplay ({})",
            LANGUAGES.map(|(c, _)| c).join(", ")
        ));
        Err(searched)
    }

    /// Reads a template file; its directory becomes the only place it may read files from, and
    /// the fonts in its `fonts/` directory are added to the built-in ones.
    pub fn from_path(path: &Path) -> std::io::Result<Template> {
        let text = std::fs::read_to_string(path)?;
        let canonical = path.canonicalize()?;
        let root = canonical.parent().map(Path::to_path_buf);
        let name = canonical.file_name().map_or_else(
            || "template.typ".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let fonts = match &root {
            Some(root) => fonts_with(&root.join(FONTS_DIR))?,
            None => None,
        };
        let mut template = Template::new(path.to_path_buf(), &name, text, root);
        template.fonts = fonts;
        Ok(template)
    }

    /// The fonts this template may use.
    pub fn fonts(&self) -> &Fonts {
        self.fonts.as_ref().unwrap_or(&FONTS)
    }

    /// Where its fonts come from, for messages: `built into rdplay` and its `fonts/` directory.
    pub fn font_places(&self) -> Vec<String> {
        let mut places = vec!["the fonts built into rdplay".to_string()];
        match &self.root {
            Some(root) => places.push(root.join(FONTS_DIR).display().to_string()),
            None => places.push("(a built-in template has no fonts/ directory: write the templates out with `rdplay init`)".into()),
        }
        places
    }

    /// The real path behind a file id, for error messages.
    pub fn display_path(&self, id: FileId) -> PathBuf {
        if id == self.main.id() {
            return self.display.clone();
        }
        let base = self.display.parent().unwrap_or(Path::new(""));
        base.join(id.vpath().as_rootless_path())
    }

    /// Reads a file of the template's directory, refusing anything that escapes it.
    fn read(&self, id: FileId) -> FileResult<Bytes> {
        if let Some(cached) = self
            .files
            .read()
            .ok()
            .and_then(|files| files.get(&id).cloned())
        {
            return cached;
        }
        let result = self.read_uncached(id);
        if let Ok(mut files) = self.files.write() {
            files.insert(id, result.clone());
        }
        result
    }

    fn read_uncached(&self, id: FileId) -> FileResult<Bytes> {
        let vpath = id.vpath();
        let Some(root) = &self.root else {
            return Err(FileError::Other(Some(
                "the built-in templates read no files; write them out with `rdplay init` to add a logo".into(),
            )));
        };
        let path = vpath.resolve(root).ok_or(FileError::AccessDenied)?;
        let real = path
            .canonicalize()
            .map_err(|e| FileError::from_io(e, &path))?;
        // A symbolic link may point outside even when the path does not.
        if !real.starts_with(root) {
            return Err(FileError::AccessDenied);
        }
        if real.is_dir() {
            return Err(FileError::IsDirectory);
        }
        std::fs::read(&real)
            .map(Bytes::new)
            .map_err(|e| FileError::from_io(e, &path))
    }
}

/// One sheet's world: a template plus the sheet's data and QR code.
pub struct SheetWorld<'a> {
    template: &'a Template,
    data: Bytes,
    qr: Option<Bytes>,
    /// The QR codes of a sheet of labels, `qr-0.svg`, `qr-1.svg`...
    qrs: Vec<Bytes>,
    today: Option<Datetime>,
}

impl<'a> SheetWorld<'a> {
    /// `data` is the JSON served as `data.json`; `qr` the SVG served as `qr.svg`; `date` is
    /// `YYYY-MM-DD` (typst's `datetime.today()` fails when it is not).
    pub fn new(
        template: &'a Template,
        data: Vec<u8>,
        qr: Option<String>,
        date: Option<&str>,
    ) -> Self {
        SheetWorld {
            template,
            data: Bytes::new(data),
            qr: qr.map(Bytes::from_string),
            qrs: Vec::new(),
            today: date.and_then(parse_date),
        }
    }

    /// Adds the QR codes served as `qr-0.svg`, `qr-1.svg`... (one per label of a label sheet).
    pub fn with_qrs(mut self, qrs: Vec<String>) -> Self {
        self.qrs = qrs.into_iter().map(Bytes::from_string).collect();
        self
    }

    fn virtual_file(&self, id: FileId) -> Option<FileResult<Bytes>> {
        if id.package().is_some() {
            return Some(Err(FileError::Other(Some(
                "packages are not available in rdplay sheets (no network): copy what you need beside the template"
                    .into(),
            ))));
        }
        let path = id.vpath().as_rootless_path();
        if path == Path::new(DATA_FILE) {
            Some(Ok(self.data.clone()))
        } else if path == Path::new(WORDS_FILE) {
            Some(Ok(self.template.words.clone()))
        } else if let Some(i) = path.to_str().and_then(|p| {
            p.strip_prefix("qr-")?
                .strip_suffix(".svg")?
                .parse::<usize>()
                .ok()
        }) {
            Some(self.qrs.get(i).cloned().ok_or_else(|| {
                FileError::Other(Some(
                    format!("there is no label {i}, so no qr-{i}.svg").into(),
                ))
            }))
        } else if path == Path::new(QR_FILE) {
            Some(self.qr.clone().ok_or_else(|| {
                FileError::Other(Some(
                    "this sheet has no QR code: its data has no `qr` field".into(),
                ))
            }))
        } else {
            None
        }
    }
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(date: &str) -> Option<Datetime> {
    let mut parts = date.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    Datetime::from_ymd(year, month, day)
}

impl World for SheetWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.template.fonts().book
    }

    fn main(&self) -> FileId {
        self.template.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.template.main.id() {
            return Ok(self.template.main.clone());
        }
        let bytes = self.file(id)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| FileError::InvalidUtf8)?;
        Ok(Source::new(id, text.into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        match self.virtual_file(id) {
            Some(result) => result,
            None => self.template.read(id),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.template.fonts().fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<i64>) -> Option<Datetime> {
        self.today
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_or_not() {
        assert_eq!(parse_date("2025-11-24"), Datetime::from_ymd(2025, 11, 24));
        assert_eq!(parse_date("2025-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn files_outside_the_template_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("tpl");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
        std::fs::write(inner.join("logo.txt"), "inside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), inner.join("link.txt")).unwrap();
        std::fs::write(inner.join("t.typ"), "x").unwrap();
        let template = Template::from_path(&inner.join("t.typ")).unwrap();
        let world = SheetWorld::new(&template, b"{}".to_vec(), None, None);
        let id = |p: &str| FileId::new(None, VirtualPath::new(p));
        assert_eq!(world.file(id("logo.txt")).unwrap().as_slice(), b"inside");
        assert_eq!(world.file(id("/logo.txt")).unwrap().as_slice(), b"inside");
        assert_eq!(world.file(id("link.txt")), Err(FileError::AccessDenied));
        assert_eq!(
            world.file(id("../secret.txt")),
            Err(FileError::AccessDenied)
        );
        assert_eq!(world.file(id("data.json")).unwrap().as_slice(), b"{}");
        assert!(world.file(id("qr.svg")).is_err());
        assert!(matches!(
            world.file(id("missing.png")),
            Err(FileError::NotFound(_))
        ));
    }
}
