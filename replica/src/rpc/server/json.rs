//! JSON writing as Agave's responses come out: jsonrpc-core turns every result into a
//! `serde_json::Value` without `preserve_order`, so object keys are sorted byte-wise, and f64
//! keep their decimal point. These helpers write that form directly, independent of
//! serde_json's map feature flags.

use {serde::Serialize, serde_json::Value, std::io::Write};

/// Writes `value` with every object's keys sorted.
pub(crate) fn write_sorted(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_sorted(out, value);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_sorted(out, item);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(out, scalar).expect("writing to a Vec cannot fail"),
    }
}

/// Serializes `value` as Agave would (through a `Value`, keys sorted).
pub(crate) fn to_sorted_vec<T: Serialize>(value: &T) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("RPC results serialize");
    let mut out = Vec::with_capacity(128);
    write_sorted(&mut out, &value);
    out
}

/// Writes a JSON string literal.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
}

pub(crate) fn write_u64(out: &mut Vec<u8>, value: u64) {
    write!(out, "{value}").expect("writing to a Vec cannot fail");
}

/// Writes `{"context":{"apiVersion":…,"slot":…},"value":` (the caller closes with `}`).
pub(crate) fn open_context(out: &mut Vec<u8>, api_version: &str, slot: u64) {
    out.extend_from_slice(b"{\"context\":{\"apiVersion\":");
    write_str(out, api_version);
    out.extend_from_slice(b",\"slot\":");
    write_u64(out, slot);
    out.extend_from_slice(b"},\"value\":");
}

/// `{"context":…,"value":<value>}` with `value` serialized as Agave would.
pub(crate) fn with_context<T: Serialize>(api_version: &str, slot: u64, value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    open_context(&mut out, api_version, slot);
    let value = serde_json::to_value(value).expect("RPC results serialize");
    write_sorted(&mut out, &value);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use {super::*, serde_json::json};

    #[test]
    fn keys_are_sorted_and_floats_keep_their_point() {
        let value =
            json!({"value": {"space": 1, "data": [1.0, 7.0], "apiVersion": "x"}, "context": 0.15});
        let mut out = Vec::new();
        write_sorted(&mut out, &value);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"context":0.15,"value":{"apiVersion":"x","data":[1.0,7.0],"space":1}}"#
        );
        assert_eq!(
            String::from_utf8(with_context("4.2.2", 5, &7u64)).unwrap(),
            r#"{"context":{"apiVersion":"4.2.2","slot":5},"value":7}"#
        );
    }
}
