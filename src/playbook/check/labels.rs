//! `output.labels`: the label sheet. A built-in sheet by name or a measured `grid` (not both),
//! the label to start on, and the template.

use super::Checker;
use crate::playbook::raw::{RawGrid, RawLabels};
use crate::playbook::sections::Labels;
use crate::render::layout::{self, Grid};

impl Checker<'_> {
    pub(super) fn labels(&mut self, l: &RawLabels) -> Labels {
        let grid = self.grid(l).or_else(fallback).unwrap_or_else(|| Grid {
            paper: "a4".into(),
            columns: 1,
            rows: 1,
            width: 1.0,
            height: 1.0,
            top: 0.0,
            left: 0.0,
            gap_x: 0.0,
            gap_y: 0.0,
        });
        if l.start == 0 || l.start > grid.per_page() {
            self.problem(
                "output.labels.start",
                format!(
                    "output.labels.start: label {} of a sheet of {}",
                    l.start,
                    grid.per_page()
                ),
                Some(format!("from 1 (top left) to {}", grid.per_page())),
            );
        }
        let template = self.optional_file(
            "output.labels.template",
            l.template.as_deref(),
            "label sheet template",
        );
        Labels {
            grid,
            start: l.start,
            template,
        }
    }

    /// The sheet named by `sheet` or measured by `grid`, the default one without either; none
    /// when it is wrong.
    fn grid(&mut self, l: &RawLabels) -> Option<Grid> {
        match (&l.sheet, &l.grid) {
            (Some(_), Some(_)) => {
                self.problem(
                    "output.labels.grid",
                    "output.labels: give `sheet` or `grid`, not both",
                    None,
                );
                None
            }
            (Some(name), None) => {
                let grid = layout::preset(name);
                if grid.is_none() {
                    let names: Vec<&str> = layout::presets().iter().map(|(n, _, _)| *n).collect();
                    self.problem(
                        "output.labels.sheet",
                        format!("output.labels.sheet: no built-in label sheet {name:?}"),
                        Some(format!(
                            "the built-in sheets: {}; or give your own `grid`",
                            names.join(", ")
                        )),
                    );
                }
                grid
            }
            (None, Some(g)) => self.measured(g),
            (None, None) => fallback(),
        }
    }

    /// The sheet measured under `grid`, if it is sound: a known paper, labels that fit on it.
    fn measured(&mut self, g: &RawGrid) -> Option<Grid> {
        let grid = Grid {
            paper: g.paper.clone(),
            columns: g.columns,
            rows: g.rows,
            width: g.width,
            height: g.height,
            top: g.top,
            left: g.left,
            gap_x: g.gap_x,
            gap_y: g.gap_y,
        };
        match grid.problem() {
            Some(problem) => {
                self.problem(
                    "output.labels.grid",
                    format!("output.labels.grid: {problem}"),
                    Some("measure the sheet in millimetres; docs/PLAYBOOK.md shows one".into()),
                );
                None
            }
            None => Some(grid),
        }
    }
}

/// The sheet of labels without `sheet` or `grid`, or in place of a wrong one.
fn fallback() -> Option<Grid> {
    layout::preset("avery-l7160")
}
