//! Image dimensions from the first bytes of PNG, JPEG, GIF and WebP files, and the per-family
//! rules that turn dimensions into tokens.
//!
//! Only headers are read (no image crate): a few dozen bytes for PNG/GIF/WebP, the segments up to
//! the first start-of-frame marker for JPEG.

use base64::Engine as _;

use super::Family;

/// Width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    pub width: u32,
    pub height: u32,
}

/// Reads dimensions from an image's leading bytes; `None` if the format is not recognised or the
/// header is cut short.
pub fn dimensions(bytes: &[u8]) -> Option<Dimensions> {
    let d = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        gif(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg(bytes)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        webp(bytes)
    } else {
        None
    }?;
    (d.width > 0 && d.height > 0).then_some(d)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | (u32::from(s[1]) << 8) | (u32::from(s[2]) << 16))
}

/// PNG: the IHDR chunk is always first; width and height are big-endian at bytes 16 and 20.
fn png(b: &[u8]) -> Option<Dimensions> {
    if b.get(12..16)? != b"IHDR" {
        return None;
    }
    Some(Dimensions {
        width: be32(b, 16)?,
        height: be32(b, 20)?,
    })
}

/// GIF: logical screen width/height, little-endian, right after the signature.
fn gif(b: &[u8]) -> Option<Dimensions> {
    Some(Dimensions {
        width: u32::from(le16(b, 6)?),
        height: u32::from(le16(b, 8)?),
    })
}

/// JPEG: walk the marker segments to the first SOFn (baseline, progressive, lossless, ...).
fn jpeg(b: &[u8]) -> Option<Dimensions> {
    let mut i = 2;
    loop {
        // Skip fill bytes before a marker.
        while *b.get(i)? == 0xFF && *b.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *b.get(i)? != 0xFF {
            return None;
        }
        let marker = *b.get(i + 1)?;
        i += 2;
        match marker {
            // Standalone markers: no length.
            0x01 | 0xD0..=0xD7 => continue,
            // End of image or start of scan before any frame header: give up.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(be16(b, i)?);
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            // length(2) precision(1) height(2) width(2)
            let height = u32::from(be16(b, i + 3)?);
            let width = u32::from(be16(b, i + 5)?);
            return Some(Dimensions { width, height });
        }
        i = i.checked_add(len)?;
    }
}

/// WebP: lossy (`VP8 `), lossless (`VP8L`) or extended (`VP8X`) first chunk.
fn webp(b: &[u8]) -> Option<Dimensions> {
    match b.get(12..16)? {
        b"VP8 " => {
            // Frame tag (3 bytes) then start code 9d 01 2a, then 14-bit width/height.
            if b.get(23..26)? != [0x9d, 0x01, 0x2a] {
                return None;
            }
            Some(Dimensions {
                width: u32::from(le16(b, 26)? & 0x3FFF),
                height: u32::from(le16(b, 28)? & 0x3FFF),
            })
        }
        b"VP8L" => {
            if *b.get(20)? != 0x2F {
                return None;
            }
            let s = b.get(21..25)?;
            let bits = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            Some(Dimensions {
                width: (bits & 0x3FFF) + 1,
                height: ((bits >> 14) & 0x3FFF) + 1,
            })
        }
        b"VP8X" => Some(Dimensions {
            width: le24(b, 24)? + 1,
            height: le24(b, 27)? + 1,
        }),
        _ => None,
    }
}

/// Decodes enough of a base64 image to read its header: a prefix first (headers are near the
/// start), the whole string only for JPEGs whose frame header sits behind large metadata.
pub fn dimensions_from_base64(data: &str) -> Option<Dimensions> {
    let data = data.trim();
    // A data URL is tolerated: `data:image/png;base64,....`
    let data = match data.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map(|(_, d)| d)?,
        None => data,
    };
    let engine = base64::engine::general_purpose::STANDARD;
    const PREFIX: usize = 64 * 1024; // multiple of 4: decodes without padding issues
    if data.len() > PREFIX
        && let Some(prefix) = data.get(..PREFIX)
        && let Ok(bytes) = engine.decode(prefix)
        && let Some(d) = dimensions(&bytes)
    {
        return Some(d);
    }
    let bytes = engine.decode(data).ok()?;
    dimensions(&bytes)
}

/// What a family's documented rule says an image of `d` costs; `None` if there is no rule.
pub fn image_tokens(family: Family, d: Dimensions) -> Option<u32> {
    match family {
        Family::Anthropic => Some(claude_image_tokens(d)),
        Family::AmazonNova => Some(nova_image_tokens(d)),
        _ => None,
    }
}

/// Claude: `tokens = width * height / 750`, after the image is scaled down (aspect ratio kept) so
/// its long edge is at most 1568 px and it is at most ~1600 tokens (1,200,000 px).
/// Source: Anthropic, "Vision" guide, "Calculate image costs".
pub fn claude_image_tokens(d: Dimensions) -> u32 {
    const MAX_EDGE: f64 = 1568.0;
    const MAX_PIXELS: f64 = 1600.0 * 750.0;
    let (w, h) = (f64::from(d.width), f64::from(d.height));
    let long = w.max(h);
    let scale = 1.0_f64
        .min(MAX_EDGE / long)
        .min((MAX_PIXELS / (w * h)).sqrt());
    let pixels = (w * scale).floor().max(1.0) * (h * scale).floor().max(1.0);
    // At most 1600 by construction; the `min` only guards float rounding.
    (pixels / 750.0).ceil().min(1600.0) as u32
}

/// Amazon Nova (v1): the user guide gives approximate token counts for sample resolutions and
/// says an image is rescaled to the closest of those aspect ratios; we take the documented sample
/// closest in aspect ratio, then in area. Source: Amazon Nova User Guide, "Image understanding",
/// "Image to tokens conversion".
pub fn nova_image_tokens(d: Dimensions) -> u32 {
    // (long side, short side, approximate tokens) as documented.
    const TABLE: [(f64, f64, u32); 5] = [
        (900.0, 450.0, 800),
        (900.0, 900.0, 1300),
        (1400.0, 900.0, 1800),
        (1800.0, 900.0, 2400),
        (1300.0, 1300.0, 2600),
    ];
    let (w, h) = (f64::from(d.width), f64::from(d.height));
    let (long, short) = (w.max(h), w.min(h));
    let ratio = (long / short).ln();
    let area = (long * short).ln();
    let mut best = (f64::INFINITY, TABLE[0].2);
    for (l, s, tokens) in TABLE {
        // Aspect ratio decides first (weight 4), area breaks ties between same-ratio rows.
        let dist = 4.0 * (ratio - (l / s).ln()).abs() + (area - (l * s).ln()).abs();
        if dist < best.0 {
            best = (dist, tokens);
        }
    }
    best.1
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn png_bytes(w: u32, h: u32) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    fn jpeg_bytes(w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        // APP0 (JFIF) segment of 16 bytes, then a DQT stub, then fill bytes, then SOF2.
        b.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
        b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        b.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x04, 0x00, 0x00]);
        b.extend_from_slice(&[0xFF, 0xFF, 0xC2, 0x00, 0x11, 0x08]);
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&[0x03, 0x01, 0x22, 0x00]);
        b
    }

    fn gif_bytes(w: u16, h: u16) -> Vec<u8> {
        let mut b = b"GIF89a".to_vec();
        b.extend_from_slice(&w.to_le_bytes());
        b.extend_from_slice(&h.to_le_bytes());
        b.extend_from_slice(&[0xF7, 0, 0]);
        b
    }

    fn riff(chunk: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = b"RIFF\0\0\0\0WEBP".to_vec();
        b.extend_from_slice(chunk);
        b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn png_header() {
        assert_eq!(
            dimensions(&png_bytes(1024, 768)),
            Some(Dimensions {
                width: 1024,
                height: 768
            })
        );
    }

    #[test]
    fn jpeg_header_after_segments_and_fill_bytes() {
        assert_eq!(
            dimensions(&jpeg_bytes(640, 480)),
            Some(Dimensions {
                width: 640,
                height: 480
            })
        );
    }

    #[test]
    fn gif_header() {
        assert_eq!(
            dimensions(&gif_bytes(320, 200)),
            Some(Dimensions {
                width: 320,
                height: 200
            })
        );
    }

    #[test]
    fn webp_lossy_lossless_extended() {
        let mut vp8 = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        vp8.extend_from_slice(&800u16.to_le_bytes());
        vp8.extend_from_slice(&600u16.to_le_bytes());
        assert_eq!(
            dimensions(&riff(b"VP8 ", &vp8)),
            Some(Dimensions {
                width: 800,
                height: 600
            })
        );

        let bits: u32 = (1000 - 1) | ((500 - 1) << 14);
        let mut vp8l = vec![0x2F];
        vp8l.extend_from_slice(&bits.to_le_bytes());
        assert_eq!(
            dimensions(&riff(b"VP8L", &vp8l)),
            Some(Dimensions {
                width: 1000,
                height: 500
            })
        );

        let mut vp8x = vec![0u8; 4];
        vp8x.extend_from_slice(&(1920u32 - 1).to_le_bytes()[..3]);
        vp8x.extend_from_slice(&(1080u32 - 1).to_le_bytes()[..3]);
        assert_eq!(
            dimensions(&riff(b"VP8X", &vp8x)),
            Some(Dimensions {
                width: 1920,
                height: 1080
            })
        );
    }

    #[test]
    fn truncated_or_unknown_headers_are_none() {
        let png = png_bytes(10, 10);
        for cut in 0..png.len().min(24) {
            assert_eq!(dimensions(&png[..cut]), None, "cut at {cut}");
        }
        let jpeg = jpeg_bytes(10, 10);
        for cut in 0..jpeg.len() - 4 {
            assert_eq!(dimensions(&jpeg[..cut]), None, "cut at {cut}");
        }
        assert_eq!(dimensions(b"%PDF-1.7"), None);
        assert_eq!(dimensions(&png_bytes(0, 10)), None);
    }

    #[test]
    fn base64_and_data_url() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(png_bytes(200, 100));
        assert_eq!(
            dimensions_from_base64(&b64),
            Some(Dimensions {
                width: 200,
                height: 100
            })
        );
        let url = format!("data:image/png;base64,{b64}");
        assert_eq!(
            dimensions_from_base64(&url),
            Some(Dimensions {
                width: 200,
                height: 100
            })
        );
        assert_eq!(dimensions_from_base64("not base64!"), None);
    }

    #[test]
    fn claude_rule_matches_documented_examples() {
        // Anthropic's table: 200x200 ~54, 1000x1000 ~1334, 1092x1092 ~1590.
        assert_eq!(
            claude_image_tokens(Dimensions {
                width: 200,
                height: 200
            }),
            54
        );
        assert_eq!(
            claude_image_tokens(Dimensions {
                width: 1000,
                height: 1000
            }),
            1334
        );
        assert_eq!(
            claude_image_tokens(Dimensions {
                width: 1092,
                height: 1092
            }),
            1590
        );
        // Large images are scaled down to at most ~1600 tokens.
        assert!(
            claude_image_tokens(Dimensions {
                width: 8000,
                height: 8000
            }) <= 1600
        );
        assert!(
            claude_image_tokens(Dimensions {
                width: 4000,
                height: 100
            }) <= 1600
        );
    }

    #[test]
    fn nova_rule_matches_documented_examples() {
        // The guide's worked example: 800x400 -> closest 900x450 -> ~800 tokens.
        assert_eq!(
            nova_image_tokens(Dimensions {
                width: 800,
                height: 400
            }),
            800
        );
        assert_eq!(
            nova_image_tokens(Dimensions {
                width: 900,
                height: 900
            }),
            1300
        );
        assert_eq!(
            nova_image_tokens(Dimensions {
                width: 1300,
                height: 1300
            }),
            2600
        );
        assert_eq!(
            nova_image_tokens(Dimensions {
                width: 900,
                height: 1400
            }),
            1800
        );
        assert_eq!(
            nova_image_tokens(Dimensions {
                width: 1800,
                height: 900
            }),
            2400
        );
    }
}
