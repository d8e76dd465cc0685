//! AMF0, the encoding of RTMP commands and FLV script data: a writer for the messages the
//! server sends itself (`onMetaData`, `onStatus`), and a bounded [`read`]er for what peers
//! send, so that no untrusted AMF0 reaches a recursive decoder.

mod read;

pub use read::{Limits, read_values};

/// One AMF0 value. The reader produces every variant; the writer writes every variant.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An AMF0 number.
    Number(f64),
    /// An AMF0 boolean.
    Bool(bool),
    /// An AMF0 short string (truncated to 65535 bytes when written).
    String(String),
    /// An anonymous object: properties in the order they came.
    Object(Vec<(String, Value)>),
    /// The null value.
    Null,
    /// The undefined value.
    Undefined,
    /// An associative (ECMA) array: properties in the order they came.
    EcmaArray(Vec<(String, Value)>),
    /// A strict (dense) array.
    StrictArray(Vec<Value>),
}

impl Value {
    /// The string this value holds, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END_MARKER: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0A;
const OBJECT_END: [u8; 3] = [0x00, 0x00, OBJECT_END_MARKER];

/// Writes `"onMetaData"` followed by an ECMA array of `properties`.
pub fn write_on_metadata(properties: &[(&str, Value)], out: &mut Vec<u8>) {
    write_string("onMetaData", out);
    out.push(ECMA_ARRAY);
    let count = u32::try_from(properties.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_be_bytes());
    write_properties(properties, out);
}

/// Writes an anonymous object of `properties`.
pub fn write_object(properties: &[(&str, Value)], out: &mut Vec<u8>) {
    out.push(OBJECT);
    write_properties(properties, out);
}

/// Writes one value. Nesting is as deep as the value given: the server writes only values
/// it built itself.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Number(number) => {
            out.push(NUMBER);
            out.extend_from_slice(&number.to_be_bytes());
        }
        Value::Bool(flag) => {
            out.push(BOOLEAN);
            out.push(u8::from(*flag));
        }
        Value::String(text) => write_string(text, out),
        Value::Object(properties) => {
            out.push(OBJECT);
            write_owned_properties(properties, out);
        }
        Value::Null => out.push(NULL),
        Value::Undefined => out.push(UNDEFINED),
        Value::EcmaArray(properties) => {
            out.push(ECMA_ARRAY);
            let count = u32::try_from(properties.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            write_owned_properties(properties, out);
        }
        Value::StrictArray(values) => {
            out.push(STRICT_ARRAY);
            let count = u32::try_from(values.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_be_bytes());
            for value in values {
                write_value(value, out);
            }
        }
    }
}

/// Writes a short string value (truncated to 65535 bytes).
pub fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(STRING);
    write_short_string(text, out);
}

/// Writes the null value.
pub fn write_null(out: &mut Vec<u8>) {
    out.push(NULL);
}

fn write_properties(properties: &[(&str, Value)], out: &mut Vec<u8>) {
    for (name, value) in properties {
        write_short_string(name, out);
        write_value(value, out);
    }
    out.extend_from_slice(&OBJECT_END);
}

fn write_owned_properties(properties: &[(String, Value)], out: &mut Vec<u8>) {
    for (name, value) in properties {
        write_short_string(name, out);
        write_value(value, out);
    }
    out.extend_from_slice(&OBJECT_END);
}

fn write_short_string(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let len = bytes.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&bytes[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_ecma_array_of_properties() {
        let mut out = Vec::new();
        write_on_metadata(
            &[
                ("width", Value::Number(1280.0)),
                ("stereo", Value::Bool(true)),
            ],
            &mut out,
        );
        assert_eq!(&out[..13], b"\x02\x00\x0aonMetaData");
        assert_eq!(&out[13..18], &[ECMA_ARRAY, 0, 0, 0, 2]);
        assert_eq!(&out[18..25], b"\x00\x05width");
        assert_eq!(out[25], NUMBER);
        assert_eq!(&out[26..34], &1280.0f64.to_be_bytes());
        assert_eq!(&out[out.len() - 3..], &OBJECT_END);
    }
}
