//! Render step: the PC's user sheet and PC sheet, then the inventory learns the account is live.
//! The sheets of the accounts this run deleted are removed (the inventory keeps their record).

use super::{StepError, StepKind};
use crate::inventory::Inventory;
use crate::render::{Format, PcSheet, Renderer, UserSheet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Renders both sheets on the blocking pool, records them, and removes the deleted accounts' sheets.
pub async fn render(
    renderer: Arc<Renderer>,
    inventory: &Inventory,
    out_dir: &Path,
    formats: &[Format],
    user: UserSheet,
    pc: PcSheet,
    deleted: &[String],
) -> Result<(UserSheet, PcSheet, Vec<PathBuf>), StepError> {
    let out = out_dir.to_path_buf();
    let formats = formats.to_vec();
    let joined = tokio::task::spawn_blocking(move || {
        let user_paths = renderer.user_sheet(&user, &formats, &out);
        let pc_paths = renderer.pc_sheet(&pc, &formats, &out);
        (user, pc, user_paths, pc_paths)
    })
    .await
    .map_err(|e| StepError::new(StepKind::Render, format!("rendering stopped: {e}")))?;
    let (user, pc, user_paths, pc_paths) = joined;
    let user_paths = user_paths.map_err(|e| StepError::new(StepKind::Render, e.to_string()))?;
    let pc_paths = pc_paths.map_err(|e| StepError::new(StepKind::Render, e.to_string()))?;
    inventory
        .sheets_written(&user.username, user_paths.clone(), pc_paths.clone())
        .await
        .map_err(|e| StepError::new(StepKind::Inventory, format!("recording the sheets: {e}")))?;
    for name in deleted.iter().filter(|n| **n != user.username) {
        crate::render::remove_user_sheets(out_dir, name).map_err(|e| {
            StepError::new(
                StepKind::Render,
                format!("removing the sheets of {name}: {e}"),
            )
        })?;
    }
    let mut paths = user_paths;
    paths.extend(pc_paths);
    Ok((user, pc, paths))
}
