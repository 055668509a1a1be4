//! Label sheets: the grid of sticky labels on a sheet of paper, from a built-in preset or given.
//!
//! The presets are the manufacturers' published dimensions (Avery's product templates, in mm; the
//! 5160 in inches, converted). The grid reaches the label template as `data.layout`, so the
//! template places each label and only draws what is on it.

use serde::Serialize;

/// One label sheet: the paper and where its labels are, all lengths in millimetres.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grid {
    /// typst's paper name (`a4`, `us-letter`).
    pub paper: String,
    pub columns: u32,
    pub rows: u32,
    /// One label's width and height.
    pub width: f64,
    pub height: f64,
    /// From the paper's top edge to the first row, and from its left edge to the first column.
    pub top: f64,
    pub left: f64,
    /// Between two columns, and between two rows.
    pub gap_x: f64,
    pub gap_y: f64,
}

/// The built-in label sheets: `(name, description, grid)`.
pub fn presets() -> Vec<(&'static str, &'static str, Grid)> {
    let grid = |paper: &str, columns, rows, width, height, top, left, gap_x, gap_y| Grid {
        paper: paper.to_string(),
        columns,
        rows,
        width,
        height,
        top,
        left,
        gap_x,
        gap_y,
    };
    vec![
        (
            "avery-l7160",
            "A4, 21 labels of 63.5 × 38.1 mm (3 × 7)",
            grid("a4", 3, 7, 63.5, 38.1, 15.15, 7.25, 2.54, 0.0),
        ),
        (
            "avery-l7163",
            "A4, 14 labels of 99.1 × 38.1 mm (2 × 7)",
            grid("a4", 2, 7, 99.1, 38.1, 15.15, 4.65, 2.5, 0.0),
        ),
        (
            "avery-l7651",
            "A4, 65 labels of 38.1 × 21.2 mm (5 × 13)",
            grid("a4", 5, 13, 38.1, 21.2, 10.7, 4.75, 2.5, 0.0),
        ),
        (
            "avery-5160",
            "US Letter, 30 labels of 2.625 × 1 in (3 × 10)",
            grid("us-letter", 3, 10, 66.675, 25.4, 12.7, 4.7625, 3.175, 0.0),
        ),
    ]
}

/// The preset named `name` (case-insensitive; `l7160` is `avery-l7160`).
pub fn preset(name: &str) -> Option<Grid> {
    let name = name.to_ascii_lowercase();
    presets()
        .into_iter()
        .find(|(n, _, _)| *n == name || n.strip_prefix("avery-") == Some(name.as_str()))
        .map(|(_, _, grid)| grid)
}

/// The paper sizes a custom grid may use, in mm.
pub fn paper_size(paper: &str) -> Option<(f64, f64)> {
    match paper {
        "a4" => Some((210.0, 297.0)),
        "a5" => Some((148.0, 210.0)),
        "us-letter" => Some((215.9, 279.4)),
        "us-legal" => Some((215.9, 355.6)),
        _ => None,
    }
}

impl Grid {
    /// Labels per sheet.
    pub fn per_page(&self) -> u32 {
        self.columns * self.rows
    }

    /// What is wrong with this grid, if anything: labels must exist and fit on the paper.
    pub fn problem(&self) -> Option<String> {
        let Some((w, h)) = paper_size(&self.paper) else {
            return Some(format!(
                "paper {:?}: use a4, a5, us-letter or us-legal",
                self.paper
            ));
        };
        let lengths = [
            self.width,
            self.height,
            self.top,
            self.left,
            self.gap_x,
            self.gap_y,
        ];
        if self.columns == 0 || self.rows == 0 || self.columns > 20 || self.rows > 40 {
            return Some("columns (1 to 20) and rows (1 to 40) are needed".into());
        }
        if lengths.iter().any(|l| !l.is_finite() || *l < 0.0)
            || self.width <= 0.0
            || self.height <= 0.0
        {
            return Some("lengths are millimetres, not negative; width and height above 0".into());
        }
        let right = self.left
            + f64::from(self.columns) * self.width
            + f64::from(self.columns - 1) * self.gap_x;
        let bottom =
            self.top + f64::from(self.rows) * self.height + f64::from(self.rows - 1) * self.gap_y;
        if right > w + 0.01 || bottom > h + 0.01 {
            return Some(format!(
                "the labels reach {right:.1} × {bottom:.1} mm, beyond the {w} × {h} mm paper"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_fits_its_paper_and_is_found_by_its_short_name() {
        for (name, _, grid) in presets() {
            assert_eq!(grid.problem(), None, "{name}");
        }
        assert_eq!(preset("L7160").map(|g| g.per_page()), Some(21));
        assert_eq!(preset("avery-l7163").map(|g| g.per_page()), Some(14));
        assert_eq!(preset("l7651").map(|g| g.per_page()), Some(65));
        assert_eq!(preset("5160").map(|g| g.per_page()), Some(30));
        assert_eq!(preset("l9999"), None);
    }

    #[test]
    fn a_grid_beyond_its_paper_is_refused() {
        let mut grid = preset("l7160").expect("preset");
        grid.columns = 4;
        assert!(grid.problem().expect("problem").contains("beyond"));
        grid.paper = "a3".into();
        assert!(grid.problem().expect("problem").contains("paper"));
    }
}
