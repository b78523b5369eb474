//! A minimal protobuf reader for the parts of an ONNX `ModelProto` the encoder needs: the
//! graph's initializers (name, dims, type, data) and nodes (op type, name, inputs, integer
//! attributes). Every length is checked against the bytes left; malformed input is an error,
//! never a panic. Tensor data stays borrowed from the file's bytes.

use std::collections::HashMap;

/// What is wrong with the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnnxError {
    /// The bytes end inside a field.
    #[error("ONNX: truncated at byte {0}")]
    Truncated(usize),
    /// A varint longer than ten bytes.
    #[error("ONNX: malformed varint at byte {0}")]
    Varint(usize),
    /// A wire type protobuf does not define, or groups (which ONNX never uses).
    #[error("ONNX: unsupported wire type {wire} at byte {at}")]
    WireType {
        /// The wire type.
        wire: u64,
        /// Where.
        at: usize,
    },
    /// A string field that is not UTF-8.
    #[error("ONNX: a name is not UTF-8")]
    Utf8,
    /// The model has no graph.
    #[error("ONNX: the model has no graph")]
    NoGraph,
}

/// ONNX `TensorProto.DataType` values this reader interprets.
pub mod dtype {
    /// 32-bit float.
    pub const FLOAT: i32 = 1;
    /// Unsigned 8-bit integer.
    pub const UINT8: i32 = 2;
    /// Signed 8-bit integer.
    pub const INT8: i32 = 3;
    /// Signed 32-bit integer.
    pub const INT32: i32 = 6;
    /// Signed 64-bit integer.
    pub const INT64: i32 = 7;
}

/// One initializer. Data is either `raw` (little-endian bytes) or one of the typed fields.
#[derive(Debug, Default, Clone)]
pub struct Tensor<'a> {
    /// Its name in the graph.
    pub name: &'a str,
    /// Its shape.
    pub dims: Vec<i64>,
    /// `TensorProto.DataType`.
    pub data_type: i32,
    /// `raw_data`, when present.
    pub raw: Option<&'a [u8]>,
    /// `float_data`.
    pub float_data: Vec<f32>,
    /// `int32_data` (also holds uint8/int8/int16 values).
    pub int32_data: Vec<i32>,
    /// `int64_data`.
    pub int64_data: Vec<i64>,
    /// Whether the data lives in an external file (not supported by the loader).
    pub external: bool,
}

impl Tensor<'_> {
    /// Number of elements the dims describe, `None` on a negative dim or overflow.
    pub fn numel(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
    }

    /// The values as f32, for a FLOAT tensor.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        if self.data_type != dtype::FLOAT {
            return None;
        }
        let n = self.numel()?;
        let v: Vec<f32> = match self.raw {
            Some(raw) => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            None => self.float_data.clone(),
        };
        (v.len() == n).then_some(v)
    }

    /// The values as bytes, for a UINT8 or INT8 tensor (INT8 values reinterpreted).
    pub fn to_u8(&self) -> Option<Vec<u8>> {
        if self.data_type != dtype::UINT8 && self.data_type != dtype::INT8 {
            return None;
        }
        let n = self.numel()?;
        let v: Vec<u8> = match self.raw {
            Some(raw) => raw.to_vec(),
            // Typed storage widens each byte into an int32; the low byte is the value.
            None => self.int32_data.iter().map(|&x| x as u8).collect(),
        };
        (v.len() == n).then_some(v)
    }
}

/// One node: only what the loader reads.
#[derive(Debug, Default, Clone)]
pub struct Node<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its operator.
    pub op_type: &'a str,
    /// Its operator's domain (`com.microsoft` for contrib ops).
    pub domain: &'a str,
    /// The names of its inputs.
    pub inputs: Vec<&'a str>,
    /// Its integer attributes.
    pub ints: HashMap<&'a str, i64>,
}

/// The graph's initializers and nodes.
#[derive(Debug, Default)]
pub struct Graph<'a> {
    /// Initializers, by name.
    pub initializers: HashMap<&'a str, Tensor<'a>>,
    /// Nodes, in file order.
    pub nodes: Vec<Node<'a>>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8], usize),
    Fixed32(u32),
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn at(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64, OnnxError> {
        let start = self.at();
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or(OnnxError::Truncated(self.at()))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(OnnxError::Varint(start))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], OnnxError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(OnnxError::Truncated(self.at()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, or `None` at the end.
    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, OnnxError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let at = self.at();
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        let v = match wire {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| OnnxError::Truncated(self.at()))?;
                let start = self.at();
                Value::Bytes(self.take(len)?, start)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            _ => return Err(OnnxError::WireType { wire, at }),
        };
        Ok(Some((num, v)))
    }
}

fn utf8(b: &[u8]) -> Result<&str, OnnxError> {
    std::str::from_utf8(b).map_err(|_| OnnxError::Utf8)
}

/// Reads packed or unpacked repeated varints.
fn varints(v: &Value<'_>, out: &mut Vec<i64>) -> Result<(), OnnxError> {
    match v {
        Value::Varint(x) => out.push(*x as i64),
        Value::Bytes(b, base) => {
            let mut r = Reader::new(b, *base);
            while r.pos < b.len() {
                out.push(r.varint()? as i64);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parses a serialized `ModelProto` and returns its graph.
pub fn parse_model(bytes: &[u8]) -> Result<Graph<'_>, OnnxError> {
    let mut r = Reader::new(bytes, 0);
    let mut graph = None;
    while let Some((num, v)) = r.field()? {
        // ModelProto.graph = 7.
        if let (7, Value::Bytes(b, base)) = (num, v) {
            graph = Some(parse_graph(b, base)?);
        }
    }
    graph.ok_or(OnnxError::NoGraph)
}

fn parse_graph(buf: &[u8], base: usize) -> Result<Graph<'_>, OnnxError> {
    let mut g = Graph::default();
    let mut r = Reader::new(buf, base);
    while let Some((num, v)) = r.field()? {
        match (num, v) {
            // GraphProto.node = 1, .initializer = 5.
            (1, Value::Bytes(b, at)) => g.nodes.push(parse_node(b, at)?),
            (5, Value::Bytes(b, at)) => {
                let t = parse_tensor(b, at)?;
                g.initializers.insert(t.name, t);
            }
            _ => {}
        }
    }
    Ok(g)
}

fn parse_node(buf: &[u8], base: usize) -> Result<Node<'_>, OnnxError> {
    let mut n = Node::default();
    let mut r = Reader::new(buf, base);
    while let Some((num, v)) = r.field()? {
        match (num, v) {
            (1, Value::Bytes(b, _)) => n.inputs.push(utf8(b)?),
            (3, Value::Bytes(b, _)) => n.name = utf8(b)?,
            (4, Value::Bytes(b, _)) => n.op_type = utf8(b)?,
            (7, Value::Bytes(b, _)) => n.domain = utf8(b)?,
            (5, Value::Bytes(b, at)) => {
                // AttributeProto: name = 1, i = 3.
                let mut ar = Reader::new(b, at);
                let (mut name, mut i) = ("", None);
                while let Some((an, av)) = ar.field()? {
                    match (an, av) {
                        (1, Value::Bytes(s, _)) => name = utf8(s)?,
                        (3, Value::Varint(x)) => i = Some(x as i64),
                        _ => {}
                    }
                }
                if let Some(i) = i {
                    n.ints.insert(name, i);
                }
            }
            _ => {}
        }
    }
    Ok(n)
}

fn parse_tensor(buf: &[u8], base: usize) -> Result<Tensor<'_>, OnnxError> {
    let mut t = Tensor::default();
    let mut r = Reader::new(buf, base);
    while let Some((num, v)) = r.field()? {
        match num {
            1 => varints(&v, &mut t.dims)?,
            2 => {
                if let Value::Varint(x) = v {
                    t.data_type = x as i32;
                }
            }
            4 => match v {
                Value::Fixed32(x) => t.float_data.push(f32::from_bits(x)),
                Value::Bytes(b, _) => t.float_data.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                ),
                _ => {}
            },
            5 => {
                let mut tmp = Vec::new();
                varints(&v, &mut tmp)?;
                t.int32_data.extend(tmp.into_iter().map(|x| x as i32));
            }
            7 => varints(&v, &mut t.int64_data)?,
            8 => {
                if let Value::Bytes(b, _) = v {
                    t.name = utf8(b)?;
                }
            }
            9 => {
                if let Value::Bytes(b, _) = v {
                    t.raw = Some(b);
                }
            }
            // data_location = 14: 1 means EXTERNAL.
            14 => {
                if let Value::Varint(1) = v {
                    t.external = true;
                }
            }
            _ => {}
        }
    }
    Ok(t)
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

    fn field(num: u64, wire: u64, body: &[u8]) -> Vec<u8> {
        let mut out = vec![];
        put_varint(&mut out, (num << 3) | wire);
        if wire == 2 {
            put_varint(&mut out, body.len() as u64);
        }
        out.extend_from_slice(body);
        out
    }

    fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn reads_a_tiny_model() {
        let mut tensor = field(1, 0, &[2]);
        tensor.extend(field(1, 0, &[3]));
        tensor.extend(field(2, 0, &[1]));
        tensor.extend(field(8, 2, b"w"));
        let floats: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        tensor.extend(field(9, 2, &floats));
        let mut attr = field(1, 2, b"K");
        attr.extend(field(3, 0, &[64]));
        let mut node = field(1, 2, b"x");
        node.extend(field(1, 2, b"w"));
        node.extend(field(3, 2, b"mm"));
        node.extend(field(4, 2, b"MatMul"));
        node.extend(field(5, 2, &attr));
        let mut graph = field(1, 2, &node);
        graph.extend(field(5, 2, &tensor));
        let model = field(7, 2, &graph);
        let g = parse_model(&model).unwrap();
        let t = &g.initializers["w"];
        assert_eq!(t.dims, vec![2, 3]);
        assert_eq!(t.to_f32().unwrap(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(g.nodes[0].op_type, "MatMul");
        assert_eq!(g.nodes[0].inputs, vec!["x", "w"]);
        assert_eq!(g.nodes[0].ints["K"], 64);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        // A length-delimited graph that claims more bytes than there are.
        assert_eq!(
            parse_model(&[0x3a, 0x05, 0x00]).unwrap_err(),
            OnnxError::Truncated(2)
        );
        // An eleven-byte varint.
        assert!(matches!(
            parse_model(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ]),
            Err(OnnxError::Varint(1))
        ));
        // A group (wire type 3).
        assert!(matches!(
            parse_model(&[0x0b]),
            Err(OnnxError::WireType { wire: 3, .. })
        ));
        assert_eq!(parse_model(&[]).unwrap_err(), OnnxError::NoGraph);
        assert_eq!(
            parse_model(&field(7, 2, &field(1, 2, &field(3, 2, &[0xff])))).unwrap_err(),
            OnnxError::Utf8
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_model(&bytes);
            // Nest them where the parser descends, so the inner readers see them too.
            let _ = parse_model(&field(7, 2, &field(5, 2, &bytes)));
            let _ = parse_model(&field(7, 2, &field(1, 2, &bytes)));
        }
    }
}
