//! A bounded AMF0 reader for bytes that peers send (RTMP commands, `@setDataFrame`).
//!
//! It never recurses: open objects and arrays live on an explicit stack whose height is
//! capped ([`Limits::max_depth`]), and the number of values in one payload is capped
//! ([`Limits::max_values`]), so a hostile payload costs at most a bounded amount of stack and
//! of memory proportional to its own size. Strings must be complete and UTF-8, and only the
//! markers a recursive decoder behind us also understands are accepted, so whatever passes
//! here decodes there too.

use super::{
    BOOLEAN, ECMA_ARRAY, NULL, NUMBER, OBJECT, OBJECT_END_MARKER, STRICT_ARRAY, STRING, UNDEFINED,
    Value,
};
use crate::MediaError;
use crate::read::ByteReader;

/// Bounds on one AMF0 payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Objects and arrays open at once. Real commands nest two or three deep.
    pub max_depth: usize,
    /// Values in the payload, nested ones and property values included.
    pub max_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_values: 4096,
        }
    }
}

/// A container being read.
enum Open {
    /// An object or ECMA array, and the name of the property whose value comes next.
    Properties {
        ecma: bool,
        properties: Vec<(String, Value)>,
        name: String,
    },
    /// A strict array and how many values it still announces.
    Strict { values: Vec<Value>, remaining: u32 },
}

impl Open {
    fn into_value(self) -> Value {
        match self {
            Open::Properties {
                ecma: true,
                properties,
                ..
            } => Value::EcmaArray(properties),
            Open::Properties { properties, .. } => Value::Object(properties),
            Open::Strict { values, .. } => Value::StrictArray(values),
        }
    }
}

/// Reads every value of `payload`, in order, within `limits`.
pub fn read_values(payload: &[u8], limits: Limits) -> Result<Vec<Value>, MediaError> {
    let mut reader = ByteReader::new(payload);
    let mut top = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut values = 0usize;
    loop {
        // Find out whether a value comes next, or a container ends.
        match stack.last_mut() {
            None if reader.rest().is_empty() => return Ok(top),
            None => {}
            Some(Open::Strict { remaining: 0, .. }) => {
                close(&mut stack, &mut top);
                continue;
            }
            Some(Open::Strict { remaining, .. }) => *remaining -= 1,
            Some(Open::Properties { name, .. }) => {
                let len = usize::from(reader.u16("amf0 property name length")?);
                if len == 0 {
                    if reader.u8("amf0 object end")? != OBJECT_END_MARKER {
                        return Err(MediaError::Invalid("amf0 empty property name"));
                    }
                    close(&mut stack, &mut top);
                    continue;
                }
                *name = utf8(reader.take(len, "amf0 property name")?)?;
            }
        }
        values += 1;
        if values > limits.max_values {
            return Err(MediaError::TooLarge {
                what: "amf0 value count",
                len: values,
                max: limits.max_values,
            });
        }
        let marker = reader.u8("amf0 marker")?;
        let value = match marker {
            NUMBER => {
                let bits = reader.take(8, "amf0 number")?;
                let bits = bits.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
                Value::Number(f64::from_bits(bits))
            }
            BOOLEAN => Value::Bool(reader.u8("amf0 boolean")? != 0),
            STRING => {
                let len = usize::from(reader.u16("amf0 string length")?);
                Value::String(utf8(reader.take(len, "amf0 string")?)?)
            }
            NULL => Value::Null,
            UNDEFINED => Value::Undefined,
            OBJECT | ECMA_ARRAY | STRICT_ARRAY => {
                if stack.len() >= limits.max_depth {
                    return Err(MediaError::TooLarge {
                        what: "amf0 nesting depth",
                        len: stack.len() + 1,
                        max: limits.max_depth,
                    });
                }
                stack.push(open(marker, &mut reader)?);
                continue;
            }
            _ => return Err(MediaError::Invalid("amf0 marker")),
        };
        deliver(value, &mut stack, &mut top);
    }
}

fn open(marker: u8, reader: &mut ByteReader<'_>) -> Result<Open, MediaError> {
    let container = match marker {
        OBJECT => Open::Properties {
            ecma: false,
            properties: Vec::new(),
            name: String::new(),
        },
        ECMA_ARRAY => {
            // The count is advisory: the array ends with the object end marker, like an object.
            reader.u32("amf0 ecma array count")?;
            Open::Properties {
                ecma: true,
                properties: Vec::new(),
                name: String::new(),
            }
        }
        _ => {
            let remaining = reader.u32("amf0 strict array count")?;
            // Every value takes at least its marker byte: a count the payload cannot hold is
            // a lie, refused before it sizes anything.
            if usize::try_from(remaining).map_or(true, |count| count > reader.rest().len()) {
                return Err(MediaError::Truncated("amf0 strict array"));
            }
            Open::Strict {
                values: Vec::new(),
                remaining,
            }
        }
    };
    Ok(container)
}

/// Ends the innermost container and hands it to its parent.
fn close(stack: &mut Vec<Open>, top: &mut Vec<Value>) {
    if let Some(container) = stack.pop() {
        deliver(container.into_value(), stack, top);
    }
}

fn deliver(value: Value, stack: &mut [Open], top: &mut Vec<Value>) {
    match stack.last_mut() {
        None => top.push(value),
        Some(Open::Properties {
            properties, name, ..
        }) => properties.push((std::mem::take(name), value)),
        Some(Open::Strict { values, .. }) => values.push(value),
    }
}

fn utf8(bytes: &[u8]) -> Result<String, MediaError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| MediaError::Invalid("amf0 string utf-8"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::amf0::{write_string, write_value};

    fn connect_command() -> Vec<u8> {
        let mut out = Vec::new();
        write_string("connect", &mut out);
        write_value(&Value::Number(1.0), &mut out);
        let properties = vec![
            ("app".to_owned(), Value::String("live".into())),
            ("flashVer".to_owned(), Value::String("FMLE/3.0".into())),
            ("fpad".to_owned(), Value::Bool(false)),
            ("capabilities".to_owned(), Value::Number(15.0)),
            ("videoFunction".to_owned(), Value::Undefined),
        ];
        write_value(&Value::Object(properties), &mut out);
        out
    }

    #[test]
    fn reads_a_connect_command() {
        let values = read_values(&connect_command(), Limits::default()).unwrap();
        assert_eq!(values.len(), 3);
        assert_eq!(values[0].as_str(), Some("connect"));
        assert_eq!(values[1], Value::Number(1.0));
        let Value::Object(properties) = &values[2] else {
            panic!("not an object: {:?}", values[2]);
        };
        assert_eq!(properties[0], ("app".into(), Value::String("live".into())));
        assert_eq!(properties[4], ("videoFunction".into(), Value::Undefined));
    }

    /// The attack that overflowed the stack of a recursive decoder: a `connect` whose object
    /// nests 10,000 levels deep.
    fn deeply_nested(levels: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_string("connect", &mut out);
        write_value(&Value::Number(1.0), &mut out);
        for _ in 0..levels {
            out.push(OBJECT);
            out.extend_from_slice(&[0, 1, b'a']);
        }
        out.push(NULL);
        for _ in 0..levels {
            out.extend_from_slice(&[0, 0, OBJECT_END_MARKER]);
        }
        out
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let error = read_values(&deeply_nested(10_000), Limits::default()).unwrap_err();
        assert!(
            matches!(
                error,
                MediaError::TooLarge {
                    what: "amf0 nesting depth",
                    ..
                }
            ),
            "{error}"
        );
        let within = read_values(&deeply_nested(31), Limits::default()).unwrap();
        assert_eq!(within.len(), 3);
    }

    #[test]
    fn a_strict_array_longer_than_its_payload_is_refused() {
        let mut out = vec![STRICT_ARRAY];
        out.extend_from_slice(&u32::MAX.to_be_bytes());
        out.push(NULL);
        assert_eq!(
            read_values(&out, Limits::default()),
            Err(MediaError::Truncated("amf0 strict array"))
        );
    }

    #[test]
    fn too_many_values_are_refused() {
        let out = vec![NULL; 5];
        let limits = Limits {
            max_values: 4,
            ..Limits::default()
        };
        assert!(matches!(
            read_values(&out, limits),
            Err(MediaError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_strings_and_bad_markers_are_errors() {
        assert!(read_values(&[STRING, 0, 5, b'a'], Limits::default()).is_err());
        assert!(read_values(&[STRING, 0, 1, 0xFF], Limits::default()).is_err());
        assert!(read_values(&[0x11], Limits::default()).is_err());
        assert!(read_values(&[OBJECT, 0, 0, 0x08], Limits::default()).is_err());
        assert!(read_values(&[OBJECT, 0, 1, b'a'], Limits::default()).is_err());
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i32>().prop_map(|n| Value::Number(f64::from(n))),
            any::<bool>().prop_map(Value::Bool),
            "[a-z]{0,8}".prop_map(Value::String),
            Just(Value::Null),
            Just(Value::Undefined),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            let properties = proptest::collection::vec(("[a-z]{1,6}", inner.clone()), 0..4);
            prop_oneof![
                properties.clone().prop_map(Value::Object),
                properties.prop_map(Value::EcmaArray),
                proptest::collection::vec(inner, 0..4).prop_map(Value::StrictArray),
            ]
        })
    }

    proptest! {
        #[test]
        fn written_values_read_back(values in proptest::collection::vec(value(), 0..4)) {
            let mut bytes = Vec::new();
            for value in &values {
                write_value(value, &mut bytes);
            }
            prop_assert_eq!(read_values(&bytes, Limits::default()).unwrap(), values);
        }
    }
}
