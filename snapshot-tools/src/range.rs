//! HTTP byte ranges (RFC 9110 §14) for one range, both sides, without I/O: the `Range`
//! request header a server interprets and the `Content-Range` header a client checks.
//!
//! One range is served as asked; several ranges, or a header that does not parse, are
//! ignored and the whole file is sent (a server may always ignore `Range`).

/// What to send for a request on a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// 200 with the whole file.
    Full,
    /// 206 with bytes `start..=end`.
    Partial { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

impl RangeRequest {
    /// Interprets a `Range` header value for a file of `len` bytes.
    pub fn parse(header: Option<&str>, len: u64) -> Self {
        let Some(header) = header else {
            return Self::Full;
        };
        let Some(spec) = header.trim().strip_prefix("bytes=") else {
            return Self::Full;
        };
        if spec.contains(',') {
            return Self::Full;
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return Self::Full;
        };
        let number = |text: &str| -> Option<u64> {
            (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse().ok())
                .flatten()
        };
        match (first.trim(), last.trim()) {
            ("", suffix) => match number(suffix) {
                None => Self::Full,
                Some(0) => Self::Unsatisfiable,
                Some(_) if len == 0 => Self::Unsatisfiable,
                Some(suffix) => Self::Partial {
                    start: len.saturating_sub(suffix),
                    end: len - 1,
                },
            },
            (first, "") => match number(first) {
                None => Self::Full,
                Some(start) if start >= len => Self::Unsatisfiable,
                Some(start) => Self::Partial {
                    start,
                    end: len - 1,
                },
            },
            (first, last) => match (number(first), number(last)) {
                (Some(start), Some(end)) if start <= end => {
                    if start >= len {
                        Self::Unsatisfiable
                    } else {
                        Self::Partial {
                            start,
                            end: end.min(len - 1),
                        }
                    }
                }
                _ => Self::Full,
            },
        }
    }
}

/// Parses a `Content-Range: bytes <start>-<end>/<total>` response header.
pub fn parse_content_range(header: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = header.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let total = match total {
        "*" => None,
        total => Some(total.parse().ok()?),
    };
    Some((start.parse().ok()?, end.parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::{RangeRequest::*, *};

    #[test]
    fn single_ranges() {
        assert_eq!(RangeRequest::parse(None, 10), Full);
        assert_eq!(
            RangeRequest::parse(Some("bytes=0-4"), 10),
            Partial { start: 0, end: 4 }
        );
        assert_eq!(
            RangeRequest::parse(Some("bytes=5-"), 10),
            Partial { start: 5, end: 9 }
        );
        assert_eq!(
            RangeRequest::parse(Some("bytes=-3"), 10),
            Partial { start: 7, end: 9 }
        );
        assert_eq!(
            RangeRequest::parse(Some("bytes=-30"), 10),
            Partial { start: 0, end: 9 }
        );
        assert_eq!(
            RangeRequest::parse(Some("bytes=8-100"), 10),
            Partial { start: 8, end: 9 }
        );
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(RangeRequest::parse(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(RangeRequest::parse(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(RangeRequest::parse(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(RangeRequest::parse(Some("bytes=5-2"), 10), Full);
        assert_eq!(RangeRequest::parse(Some("bytes=0-1,3-4"), 10), Full);
        assert_eq!(RangeRequest::parse(Some("items=0-1"), 10), Full);
        assert_eq!(RangeRequest::parse(Some("bytes=+1-2"), 10), Full);
        assert_eq!(RangeRequest::parse(Some("bytes=a-"), 10), Full);
    }

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 5-9/10"), Some((5, 9, Some(10))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, 9, None)));
        assert_eq!(parse_content_range("bytes */10"), None);
    }
}
