//! Reading PDFs back as a person would: page counts (`pdfinfo`) and QR codes (`pdftoppm`, then
//! `zbarimg`), poppler-utils and zbar-tools being installed by .ci/run.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The number of pages of a PDF (`pdfinfo`).
#[track_caller]
pub fn pages(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .unwrap_or_else(|e| panic!("pdfinfo: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("pdfinfo found no page count in {}", pdf.display()))
}

/// Every QR code on every page of a PDF (pages rasterized at 300 dpi by `pdftoppm`, read by
/// `zbarimg`), sorted.
#[track_caller]
pub fn qr_codes(pdf: &Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let prefix = dir.path().join("page");
    let ok = Command::new("pdftoppm")
        .args(["-r", "300", "-png"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "pdftoppm failed on {}", pdf.display());
    let mut pages: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.path().display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    pages.sort();
    let mut codes = Vec::new();
    for page in pages {
        let out = Command::new("zbarimg")
            .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
            .arg(&page)
            .output()
            .unwrap_or_else(|e| panic!("zbarimg: {e}"));
        codes.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string),
        );
    }
    codes.sort();
    codes
}
