//! Compact little-endian encodings of number arrays for BLOB columns.

macro_rules! le_codec {
    ($to:ident, $from:ident, $t:ty, $n:expr) => {
        /// Encodes the values as consecutive little-endian bytes.
        pub fn $to(values: &[$t]) -> Vec<u8> {
            let mut out = Vec::with_capacity(values.len() * $n);
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out
        }

        /// Decodes bytes written by the matching encoder; `None` if the length is not a
        /// multiple of the element size.
        pub fn $from(bytes: &[u8]) -> Option<Vec<$t>> {
            if bytes.len() % $n != 0 {
                return None;
            }
            Some(
                bytes
                    .chunks_exact($n)
                    .map(|c| {
                        let mut a = [0u8; $n];
                        a.copy_from_slice(c);
                        <$t>::from_le_bytes(a)
                    })
                    .collect(),
            )
        }
    };
}

le_codec!(f32_to_le, f32_from_le, f32, 4);
le_codec!(f64_to_le, f64_from_le, f64, 8);
le_codec!(u32_to_le, u32_from_le, u32, 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_ragged() {
        let v = [0.0f32, -1.5, f32::MAX, 1e-30];
        let b = f32_to_le(&v);
        assert_eq!(b.len(), 16);
        assert_eq!(&b[4..8], &(-1.5f32).to_le_bytes());
        assert_eq!(f32_from_le(&b).as_deref(), Some(&v[..]));
        assert_eq!(f64_from_le(&f64_to_le(&[1.25, 3.5])), Some(vec![1.25, 3.5]));
        assert_eq!(u32_from_le(&u32_to_le(&[1, 2, 3])), Some(vec![1, 2, 3]));
        assert_eq!(f32_from_le(&[0, 0, 0]), None);
    }
}
