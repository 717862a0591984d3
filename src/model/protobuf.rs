//! The protobuf wire format, as far as reading and writing ONNX graphs needs it: the
//! fields of a message read one at a time from bytes in memory or from a file (where a
//! field is located and skipped, not read, so weights never pass through memory), and
//! fields written.

use std::io::{self, Read, Seek, SeekFrom};

/// Wire types (the low three bits of a field's key).
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

/// A field's value as read from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A fixed-width number, not needed here.
    Fixed,
}

/// One field of a message in memory.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub number: u32,
    pub value: Value<'a>,
}

impl<'a> Field<'a> {
    /// The value of a length-delimited field (bytes, string, message, packed numbers).
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The value of a string field.
    pub fn text(&self) -> Option<&'a str> {
        self.bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The value of a varint field.
    pub fn varint(&self) -> Option<u64> {
        match self.value {
            Value::Varint(v) => Some(v),
            _ => None,
        }
    }
}

/// The fields of a message in memory, in order; an `Err` ends a malformed message.
pub fn fields(message: &[u8]) -> impl Iterator<Item = io::Result<Field<'_>>> {
    let mut rest = message;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let field = next_field(&mut rest);
        if field.is_err() {
            rest = &[];
        }
        Some(field)
    })
}

/// The fields of a message in memory, each with its bytes as written (key and value), so
/// that a field can be copied into a new message unchanged, whatever its wire type.
pub fn fields_with_bytes(message: &[u8]) -> impl Iterator<Item = io::Result<(Field<'_>, &[u8])>> {
    let mut rest = message;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let before = rest;
        match next_field(&mut rest) {
            Ok(field) => Some(Ok((field, &before[..before.len() - rest.len()]))),
            Err(error) => {
                rest = &[];
                Some(Err(error))
            }
        }
    })
}

fn next_field<'a>(rest: &mut &'a [u8]) -> io::Result<Field<'a>> {
    let key = slice_varint(rest)?;
    let number = field_number(key)?;
    let value = match (key & 7) as u8 {
        VARINT => Value::Varint(slice_varint(rest)?),
        FIXED64 => {
            take(rest, 8)?;
            Value::Fixed
        }
        LENGTH_DELIMITED => {
            let len = usize::try_from(slice_varint(rest)?).map_err(|_| malformed())?;
            Value::Bytes(take(rest, len)?)
        }
        FIXED32 => {
            take(rest, 4)?;
            Value::Fixed
        }
        _ => return Err(malformed()),
    };
    Ok(Field { number, value })
}

/// The varints of a packed repeated field.
pub fn varints(packed: &[u8]) -> impl Iterator<Item = io::Result<u64>> + '_ {
    let mut rest = packed;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let value = slice_varint(&mut rest);
        if value.is_err() {
            rest = &[];
        }
        Some(value)
    })
}

fn take<'a>(rest: &mut &'a [u8], len: usize) -> io::Result<&'a [u8]> {
    if rest.len() < len {
        return Err(malformed());
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Ok(head)
}

fn slice_varint(rest: &mut &[u8]) -> io::Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, tail) = rest.split_first().ok_or_else(malformed)?;
        *rest = tail;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed())
}

fn field_number(key: u64) -> io::Result<u32> {
    u32::try_from(key >> 3)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(malformed)
}

fn malformed() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "malformed protobuf")
}

/// Where a length-delimited field's value lies in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub len: u64,
}

impl Span {
    /// Just past the end.
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// A field of a message in a file: varints read, length-delimited values located.
#[derive(Debug, Clone, Copy)]
pub enum FileValue {
    Varint(u64),
    Bytes(Span),
    Fixed,
}

/// Reads messages from a file without reading what it skips.
pub struct FileReader<R> {
    inner: R,
    position: u64,
}

impl<R: Read + Seek> FileReader<R> {
    pub fn new(inner: R) -> Self {
        Self { inner, position: 0 }
    }

    /// The next field of the message that ends at `end`, or `None` at its end. The value
    /// of a length-delimited field is not read: the reader is left at its start.
    ///
    /// # Errors
    /// The file cannot be read or is not a protobuf message.
    pub fn next(&mut self, end: u64) -> io::Result<Option<(u32, FileValue)>> {
        if self.position >= end {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = field_number(key)?;
        let value = match (key & 7) as u8 {
            VARINT => FileValue::Varint(self.varint()?),
            FIXED64 => {
                self.skip(8)?;
                FileValue::Fixed
            }
            LENGTH_DELIMITED => {
                let len = self.varint()?;
                FileValue::Bytes(Span {
                    offset: self.position,
                    len,
                })
            }
            FIXED32 => {
                self.skip(4)?;
                FileValue::Fixed
            }
            _ => return Err(malformed()),
        };
        if self.position > end {
            return Err(malformed());
        }
        Ok(Some((number, value)))
    }

    /// Reads the bytes of `span` (where the reader stands).
    ///
    /// # Errors
    /// The file ends early.
    pub fn read(&mut self, span: Span) -> io::Result<Vec<u8>> {
        self.seek(span.offset)?;
        let len = usize::try_from(span.len).map_err(|_| malformed())?;
        let mut bytes = vec![0; len];
        self.inner.read_exact(&mut bytes)?;
        self.position += span.len;
        Ok(bytes)
    }

    /// Moves past `span`.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn pass(&mut self, span: Span) -> io::Result<()> {
        self.seek(span.end())
    }

    /// Moves to `offset`.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn seek(&mut self, offset: u64) -> io::Result<()> {
        if offset != self.position {
            self.inner.seek(SeekFrom::Start(offset))?;
            self.position = offset;
        }
        Ok(())
    }

    fn skip(&mut self, len: u64) -> io::Result<()> {
        self.seek(self.position + len)
    }

    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            self.inner.read_exact(&mut byte)?;
            self.position += 1;
            value |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }
}

/// Appends a varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends the key of a length-delimited field and its length.
pub fn put_bytes_header(out: &mut Vec<u8>, number: u32, len: usize) {
    put_varint(out, u64::from(number) << 3 | u64::from(LENGTH_DELIMITED));
    put_varint(out, len as u64);
}

/// Appends a length-delimited field (bytes, string or message).
pub fn put_bytes(out: &mut Vec<u8>, number: u32, value: &[u8]) {
    put_bytes_header(out, number, value.len());
    out.extend_from_slice(value);
}

/// Appends a varint field.
pub fn put_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    put_varint(out, u64::from(number) << 3 | u64::from(VARINT));
    put_varint(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_fields_read_back_from_memory_and_from_a_file() {
        let mut inner = Vec::new();
        put_varint_field(&mut inner, 2, 300);
        let mut message = Vec::new();
        put_bytes(&mut message, 8, b"name");
        put_bytes(&mut message, 9, &[7; 1000]);
        put_bytes(&mut message, 5, &inner);
        let read: Vec<Field<'_>> = fields(&message).collect::<Result<_, _>>().unwrap();
        assert_eq!(read[0].text(), Some("name"));
        assert_eq!(read[1].bytes().map(<[u8]>::len), Some(1000));
        let nested: Vec<Field<'_>> = fields(read[2].bytes().unwrap())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!((nested[0].number, nested[0].varint()), (2, Some(300)));

        let mut file = FileReader::new(std::io::Cursor::new(&message));
        let end = message.len() as u64;
        let mut numbers = Vec::new();
        while let Some((number, value)) = file.next(end).unwrap() {
            numbers.push(number);
            if let FileValue::Bytes(span) = value {
                if number == 8 {
                    assert_eq!(file.read(span).unwrap(), b"name");
                } else {
                    file.pass(span).unwrap();
                }
            }
        }
        assert_eq!(numbers, vec![8, 9, 5]);
    }

    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let mut message = Vec::new();
        put_bytes(&mut message, 1, b"abcdef");
        message.truncate(4);
        assert!(fields(&message).any(|f| f.is_err()));
        let mut file = FileReader::new(std::io::Cursor::new(&message));
        let span = match file.next(message.len() as u64) {
            Ok(Some((_, FileValue::Bytes(span)))) => span,
            other => panic!("{other:?}"),
        };
        assert!(file.read(span).is_err());
    }
}
