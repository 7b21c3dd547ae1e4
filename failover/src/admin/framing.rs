//! The framing of Agave's admin RPC socket (`jsonrpc-ipc-server` 18 with its default
//! `StreamCodec`): a request is one JSON object or array, found by matching braces outside
//! strings (no separator needed, whitespace between messages ignored); each reply is written
//! followed by `\n`. Clients (`jsonrpc-core-client`'s IPC transport) send each request followed
//! by `\n` and read replies by the same brace matching.

/// The largest message either side accepts; admin RPC messages are a few hundred bytes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Why a stream of messages cannot be read further.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    /// A message grew past [`MAX_MESSAGE_BYTES`] without ending.
    #[error("a message longer than {MAX_MESSAGE_BYTES} bytes")]
    TooLong,
    /// Bytes outside a message that are neither whitespace nor a message's start.
    #[error("unexpected byte {0:#04x} between messages")]
    Garbage(u8),
    /// A message that is not UTF-8.
    #[error("a message that is not UTF-8")]
    NotUtf8,
}

/// Takes the first complete message off the front of `buffer`, if it holds one; whitespace
/// before it is dropped.
pub fn take_message(buffer: &mut Vec<u8>) -> Result<Option<String>, FramingError> {
    let start = buffer.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        buffer.clear();
        return Ok(None);
    };
    if !matches!(buffer[start], b'{' | b'[') {
        return Err(FramingError::Garbage(buffer[start]));
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, &byte) in buffer.iter().enumerate().skip(start) {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let message: Vec<u8> = buffer.drain(..=index).skip(start).collect();
                    return String::from_utf8(message)
                        .map(Some)
                        .map_err(|_| FramingError::NotUtf8);
                }
            }
            _ => {}
        }
    }
    if buffer.len() - start > MAX_MESSAGE_BYTES {
        return Err(FramingError::TooLong);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_back_to_back_messages_and_respects_strings() {
        let mut buffer = br#" {"a":"}{\"x"} [1,[2]]
{"b":1"#
            .to_vec();
        assert_eq!(
            take_message(&mut buffer).unwrap().as_deref(),
            Some(r#"{"a":"}{\"x"}"#)
        );
        assert_eq!(
            take_message(&mut buffer).unwrap().as_deref(),
            Some("[1,[2]]")
        );
        assert_eq!(take_message(&mut buffer).unwrap(), None, "incomplete");
        buffer.extend_from_slice(b"}\n");
        assert_eq!(
            take_message(&mut buffer).unwrap().as_deref(),
            Some(r#"{"b":1}"#)
        );
        assert_eq!(take_message(&mut buffer).unwrap(), None);
        assert!(buffer.is_empty());
    }

    #[test]
    fn refuses_garbage_and_endless_messages() {
        let mut buffer = b"x{}".to_vec();
        assert_eq!(take_message(&mut buffer), Err(FramingError::Garbage(b'x')));
        let mut buffer = vec![b'['; MAX_MESSAGE_BYTES + 2];
        assert_eq!(take_message(&mut buffer), Err(FramingError::TooLong));
    }
}
