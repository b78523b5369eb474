//! A reader of the safetensors format: an 8-byte little-endian header length, a JSON header
//! `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`, then the
//! raw tensor bytes, offsets relative to the end of the header. Every offset and size is checked
//! against the buffer before a byte is read, so a malformed file is an error, never a panic.
//! Only `F32` tensors convert to floats; others are listed but refused by [`Tensor::to_f32`].

use std::collections::HashMap;

/// The longest header accepted (the format's own limit).
const MAX_HEADER: usize = 100_000_000;

/// Why a buffer is not a safetensors file this reader accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetensorsError {
    /// Shorter than its header says.
    #[error("safetensors: the file is truncated")]
    Truncated,
    /// The header is not the JSON object the format describes.
    #[error("safetensors: invalid header ({0})")]
    Header(String),
    /// A tensor's offsets or shape do not fit the data.
    #[error("safetensors: tensor {0:?} has invalid offsets or shape")]
    Bounds(String),
    /// A tensor is not F32.
    #[error("safetensors: tensor {name:?} is {dtype}, only F32 is supported")]
    Dtype {
        /// The tensor.
        name: String,
        /// Its dtype as the header writes it.
        dtype: String,
    },
}

/// One tensor: its dtype, shape and bytes, borrowed from the file's buffer.
#[derive(Debug, Clone)]
pub struct Tensor<'a> {
    /// The dtype as the header writes it (`"F32"`, `"I64"`, …).
    pub dtype: String,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Row-major little-endian bytes.
    pub data: &'a [u8],
}

impl Tensor<'_> {
    /// Number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as f32; an error unless the dtype is `F32`. `name` is for the message.
    pub fn to_f32(&self, name: &str) -> Result<Vec<f32>, SafetensorsError> {
        if self.dtype != "F32" {
            return Err(SafetensorsError::Dtype {
                name: name.to_string(),
                dtype: self.dtype.clone(),
            });
        }
        Ok(self
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// A parsed file: its tensors by name.
#[derive(Debug, Clone)]
pub struct SafeTensors<'a> {
    tensors: HashMap<String, Tensor<'a>>,
}

#[derive(serde::Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Bytes per element, `None` for a dtype this reader does not know.
fn dtype_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" => 1,
        "I16" | "U16" | "F16" | "BF16" => 2,
        "I32" | "U32" | "F32" => 4,
        "I64" | "U64" | "F64" => 8,
        _ => return None,
    })
}

impl<'a> SafeTensors<'a> {
    /// Parses and checks the header: every tensor's bytes lie inside the data, match its shape
    /// and dtype, and the tensors tile the data with no gap or overlap.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SafetensorsError> {
        let len: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or(SafetensorsError::Truncated)?;
        let n = usize::try_from(u64::from_le_bytes(len))
            .ok()
            .filter(|&n| n <= MAX_HEADER)
            .ok_or_else(|| SafetensorsError::Header("header length is too large".into()))?;
        let header = bytes.get(8..8 + n).ok_or(SafetensorsError::Truncated)?;
        let data = bytes.get(8 + n..).ok_or(SafetensorsError::Truncated)?;
        let header = std::str::from_utf8(header)
            .map_err(|_| SafetensorsError::Header("not UTF-8".into()))?;
        let raw: HashMap<String, serde_json::Value> =
            serde_json::from_str(header.trim_end_matches(' '))
                .map_err(|e| SafetensorsError::Header(e.to_string()))?;
        let mut tensors = HashMap::with_capacity(raw.len());
        let mut spans = Vec::with_capacity(raw.len());
        for (name, v) in raw {
            if name == "__metadata__" {
                continue;
            }
            let e: Entry = serde_json::from_value(v)
                .map_err(|e| SafetensorsError::Header(format!("tensor {name:?}: {e}")))?;
            let bad = || SafetensorsError::Bounds(name.clone());
            let size = dtype_size(&e.dtype).ok_or_else(|| SafetensorsError::Dtype {
                name: name.clone(),
                dtype: e.dtype.clone(),
            })?;
            let shape = e
                .shape
                .iter()
                .map(|&d| usize::try_from(d).ok())
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(bad)?;
            let bytes_needed = shape
                .iter()
                .try_fold(size, |acc, &d| acc.checked_mul(d))
                .ok_or_else(bad)?;
            let [begin, end] = e.data_offsets;
            let (begin, end) = (
                usize::try_from(begin).map_err(|_| bad())?,
                usize::try_from(end).map_err(|_| bad())?,
            );
            if begin > end || end - begin != bytes_needed {
                return Err(bad());
            }
            let slice = data.get(begin..end).ok_or_else(bad)?;
            spans.push((begin, end, name.clone()));
            tensors.insert(
                name,
                Tensor {
                    dtype: e.dtype,
                    shape,
                    data: slice,
                },
            );
        }
        spans.sort();
        let mut at = 0;
        for (begin, end, name) in &spans {
            if *begin != at {
                return Err(SafetensorsError::Bounds(name.clone()));
            }
            at = *end;
        }
        if at != data.len() {
            return Err(SafetensorsError::Header(
                "the tensors do not cover the data".into(),
            ));
        }
        Ok(SafeTensors { tensors })
    }

    /// The tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&Tensor<'a>> {
        self.tensors.get(name)
    }

    /// The tensors' names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    fn sample() -> Vec<u8> {
        let mut data = Vec::new();
        for f in [1.0f32, -2.5, 3.0, 0.125, 5.0, 6.0] {
            data.extend(f.to_le_bytes());
        }
        data.extend(7i64.to_le_bytes());
        file(
            r#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"ids":{"dtype":"I64","shape":[1],"data_offsets":[24,32]}}  "#,
            &data,
        )
    }

    #[test]
    fn reads_f32_tensors_and_refuses_other_dtypes() {
        let bytes = sample();
        let st = SafeTensors::parse(&bytes).unwrap();
        assert_eq!(st.len(), 2);
        let w = st.tensor("w").unwrap();
        assert_eq!(w.shape, vec![2, 3]);
        assert_eq!(
            w.to_f32("w").unwrap(),
            vec![1.0, -2.5, 3.0, 0.125, 5.0, 6.0]
        );
        let err = st.tensor("ids").unwrap().to_f32("ids").unwrap_err();
        assert_eq!(
            err.to_string(),
            "safetensors: tensor \"ids\" is I64, only F32 is supported"
        );
        assert!(st.tensor("nope").is_none());
    }

    #[test]
    fn rejects_bad_offsets_shapes_and_truncation() {
        let bytes = sample();
        assert_eq!(
            SafeTensors::parse(&bytes[..bytes.len() - 1]).unwrap_err(),
            SafetensorsError::Bounds("ids".into())
        );
        assert_eq!(
            SafeTensors::parse(&bytes[..5]).unwrap_err(),
            SafetensorsError::Truncated
        );
        let wrong_shape = file(
            r#"{"w":{"dtype":"F32","shape":[3,3],"data_offsets":[0,24]}}"#,
            &[0; 24],
        );
        assert!(matches!(
            SafeTensors::parse(&wrong_shape),
            Err(SafetensorsError::Bounds(_))
        ));
        let overlap = file(
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#,
            &[0; 6],
        );
        assert!(SafeTensors::parse(&overlap).is_err());
        let gap = file(
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
            &[0; 6],
        );
        assert!(SafeTensors::parse(&gap).is_err());
        let huge = file(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}"#,
            &[0; 4],
        );
        assert!(SafeTensors::parse(&huge).is_err());
        let mut long = sample();
        long[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(SafeTensors::parse(&long).is_err());
        assert!(SafeTensors::parse(&file("[1,2]", &[])).is_err());
        assert!(SafeTensors::parse(&file("{}", &[])).unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = SafeTensors::parse(&bytes);
        }

        #[test]
        fn arbitrary_headers_never_panic(
            dtype in "(F32|I64|U8|BF16|X)",
            shape in proptest::collection::vec(0u64..6, 0..4),
            begin in 0u64..64,
            end in 0u64..64,
            data in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let header = format!(
                r#"{{"t":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{begin},{end}]}}}}"#
            );
            if let Ok(st) = SafeTensors::parse(&file(&header, &data)) {
                let t = st.tensor("t").unwrap();
                if let Ok(v) = t.to_f32("t") {
                    prop_assert_eq!(v.len(), t.len());
                }
            }
        }
    }
}
