//! The one `multipart/form-data` body this function reads: `POST /v1/files` (`purpose` and
//! `file`, as the OpenAI clients send them). Small on purpose: parts are split on the boundary
//! and their `Content-Disposition` read; anything else about a part is ignored.

use inference_core::GatewayError;

/// One form field.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// `name` of its `Content-Disposition`.
    pub name: String,
    /// `filename`, for a file.
    pub filename: Option<String>,
    /// The bytes between its headers and the next boundary.
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type; 415 for any other type.
pub fn boundary(content_type: Option<&str>) -> Result<String, GatewayError> {
    let wrong = || {
        GatewayError::unsupported_media_type(
            "POST /v1/files takes multipart/form-data with the fields purpose and file",
        )
    };
    let ct = content_type.ok_or_else(wrong)?;
    let mut parts = ct.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
    {
        return Err(wrong());
    }
    parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(wrong)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn malformed(why: &str) -> GatewayError {
    GatewayError::invalid_request(format!("malformed multipart/form-data body: {why}"))
}

/// The body's parts, in order.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, GatewayError> {
    let delim = format!("--{boundary}").into_bytes();
    let mut pos = find(body, &delim, 0).ok_or_else(|| malformed("no boundary"))? + delim.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Ok(parts);
        }
        let head_start = find(body, b"\r\n", pos).ok_or_else(|| malformed("truncated"))? + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)
            .ok_or_else(|| malformed("a part without headers"))?;
        let headers = String::from_utf8_lossy(&body[head_start..head_end]);
        let data_start = head_end + 4;
        let mut next_delim = b"\r\n".to_vec();
        next_delim.extend_from_slice(&delim);
        let data_end =
            find(body, &next_delim, data_start).ok_or_else(|| malformed("unterminated part"))?;
        let (name, filename) = disposition(&headers)?;
        parts.push(Part {
            name,
            filename,
            data: body[data_start..data_end].to_vec(),
        });
        pos = data_end + next_delim.len();
    }
}

/// `name` and `filename` of a part's `Content-Disposition: form-data; name="file"; filename="x"`.
fn disposition(headers: &str) -> Result<(String, Option<String>), GatewayError> {
    let line = headers
        .lines()
        .find(|l| {
            l.split(':')
                .next()
                .is_some_and(|h| h.trim().eq_ignore_ascii_case("content-disposition"))
        })
        .ok_or_else(|| malformed("a part without Content-Disposition"))?;
    let param = |key: &str| {
        line.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    let name = param("name").ok_or_else(|| malformed("a part without a name"))?;
    Ok((name, param("filename")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parts_the_clients_send() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n{\"a\":1}\n{\"b\":2}\n\r\n--XyZ--\r\n";
        let b = boundary(Some("multipart/form-data; boundary=XyZ")).unwrap();
        let parts = parse(body, &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "purpose");
        assert_eq!(parts[0].data, b"batch");
        assert_eq!(parts[1].filename.as_deref(), Some("in.jsonl"));
        assert_eq!(parts[1].data, b"{\"a\":1}\n{\"b\":2}\n");
    }

    #[test]
    fn other_types_and_broken_bodies_are_refused() {
        assert_eq!(
            boundary(Some("application/json")).unwrap_err().status(),
            415
        );
        assert_eq!(boundary(None).unwrap_err().status(), 415);
        let e = parse(
            b"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end",
            "B",
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.message().contains("unterminated"), "{e}");
    }
}
