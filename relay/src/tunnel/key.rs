//! The tunnel key: 32 bytes, stored as 64 hex digits (whitespace around them ignored).

use thiserror::Error;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// A 32-byte key for keyed BLAKE3. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; KEY_LEN]);

/// Why a key file's text is not a key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Not 64 hex digits.
    #[error("a key is 64 hex digits, found {0} characters")]
    BadLength(usize),
    /// A character that is not a hex digit.
    #[error("a key holds hex digits only")]
    NotHex,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses a key file's text: 64 hex digits, surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.len() != 2 * KEY_LEN {
            return Err(KeyError::BadLength(text.len()));
        }
        let digits = text.as_bytes();
        let mut bytes = [0u8; KEY_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let hi = hex_value(digits[2 * i]).ok_or(KeyError::NotHex)?;
            let lo = hex_value(digits[2 * i + 1]).ok_or(KeyError::NotHex)?;
            *byte = (hi << 4) | lo;
        }
        Ok(Self(bytes))
    }

    /// The key file's text: 64 lowercase hex digits and a newline.
    pub fn to_file_text(&self) -> String {
        let mut text: String = self.0.iter().map(|byte| format!("{byte:02x}")).collect();
        text.push('\n');
        text
    }

    /// Keyed BLAKE3 of `data`.
    pub fn mac(&self, data: &[u8]) -> blake3::Hash {
        blake3::keyed_hash(&self.0, data)
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use {super::*, proptest::prelude::*};

    #[test]
    fn parse_errors() {
        assert_eq!(Key::parse("abc"), Err(KeyError::BadLength(3)));
        assert_eq!(Key::parse(&"g".repeat(64)), Err(KeyError::NotHex));
        assert!(Key::parse(&format!("  {}\n", "0A".repeat(32))).is_ok());
        assert_eq!(format!("{:?}", Key::from_bytes([1; 32])), "Key(..)");
    }

    proptest! {
        #[test]
        fn file_text_round_trips(bytes in any::<[u8; 32]>()) {
            let key = Key::from_bytes(bytes);
            prop_assert_eq!(Key::parse(&key.to_file_text()).unwrap(), key);
        }

        #[test]
        fn parse_never_panics(text in ".{0,80}") {
            let _ = Key::parse(&text);
        }
    }
}
