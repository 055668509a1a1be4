//! The QR code placed on PC sheets, made as SVG so it stays sharp at any print size.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::RenderError;

/// An SVG QR code of `content` (medium error correction, 4-module quiet zone, one unit per module).
pub fn svg(content: &str) -> Result<String, RenderError> {
    let code =
        QrCode::with_error_correction_level(content.as_bytes(), EcLevel::M).map_err(|e| {
            RenderError::Qr {
                content: content.to_string(),
                reason: e.to_string(),
            }
        })?;
    Ok(code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn makes_svg_and_refuses_what_cannot_fit() {
        let svg = super::svg("08:00:27:ea:fa:15").unwrap();
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
        let err = super::svg(&"x".repeat(5000)).unwrap_err();
        assert!(err.to_string().contains("cannot make a QR code"), "{err}");
    }
}
