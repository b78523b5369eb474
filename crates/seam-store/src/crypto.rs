//! Keys derived from the master key, and the few primitives the log uses (all `ring`).
//!
//! From the 32-byte master key, HKDF-SHA256 derives one key per purpose (`info` names it):
//! `seam subject` (HMAC key for subject hashes), `seam wrap` (AES-256-GCM key that wraps data
//! keys), `seam subject name` (AES-256-GCM key that seals the clear subject, with its hash as
//! associated data), `seam spool` (AES-256-GCM key that seals the async spool's lines),
//! `seam checkpoint` (Ed25519 seed for checkpoint and anchor signatures) and `seam key check`
//! (a value stored in the database so a wrong master key is refused at open).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use ring::{digest, hkdf, hmac};

use crate::StoreError;

/// How subjects become `subject_hash`.
enum SubjectHasher {
    /// HMAC-SHA256 under a key derived from the master key: without the key, a hash cannot be
    /// tested against guessed subjects.
    Hmac(hmac::Key),
    /// SHA-256 of a per-database random salt and the subject. Weaker: anyone holding the
    /// database can test guesses.
    Salted(Vec<u8>),
}

pub(crate) struct Keys {
    subject: SubjectHasher,
    wrap: Option<LessSafeKey>,
    name: Option<LessSafeKey>,
    spool: SpoolKey,
    signer: Option<Ed25519KeyPair>,
    check: Option<String>,
    rng: SystemRandom,
}

impl Keys {
    pub(crate) fn new(master: Option<&[u8; 32]>, salt: &[u8]) -> Result<Keys, StoreError> {
        let Some(master) = master else {
            return Ok(Keys {
                subject: SubjectHasher::Salted(salt.to_vec()),
                wrap: None,
                name: None,
                spool: SpoolKey::Salted(salt.to_vec()),
                signer: None,
                check: None,
                rng: SystemRandom::new(),
            });
        };
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"seam audit v1").extract(master);
        let derive = |info: &[u8]| -> Result<[u8; 32], StoreError> {
            let mut out = [0u8; 32];
            prk.expand(&[info], hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut out))
                .map_err(|_| StoreError::new("key derivation failed"))?;
            Ok(out)
        };
        let wrap = aead_key(&derive(b"seam wrap")?)?;
        let signer = Ed25519KeyPair::from_seed_unchecked(&derive(b"seam checkpoint")?)
            .map_err(|_| StoreError::new("cannot derive the checkpoint signing key"))?;
        Ok(Keys {
            subject: SubjectHasher::Hmac(hmac::Key::new(
                hmac::HMAC_SHA256,
                &derive(b"seam subject")?,
            )),
            wrap: Some(wrap),
            name: Some(aead_key(&derive(b"seam subject name")?)?),
            spool: SpoolKey::Sealed(derive(b"seam spool")?),
            signer: Some(signer),
            check: Some(hex(&derive(b"seam key check")?)),
            rng: SystemRandom::new(),
        })
    }

    pub(crate) fn has_master(&self) -> bool {
        self.wrap.is_some()
    }

    /// The value stored in `audit_meta` to recognise this master key.
    pub(crate) fn key_check(&self) -> Option<&str> {
        self.check.as_deref()
    }

    pub(crate) fn subject_hash(&self, subject: &str) -> String {
        match &self.subject {
            SubjectHasher::Hmac(k) => hex(hmac::sign(k, subject.as_bytes()).as_ref()),
            SubjectHasher::Salted(salt) => salted_hash(salt, subject),
        }
    }

    /// The clear subject sealed for `audit_subjects.subject_sealed`, bound to its hash (a
    /// sealed subject copied to another row does not open); `None` without a master key, which
    /// keeps no clear subject at all.
    pub(crate) fn seal_subject(
        &self,
        subject_hash: &str,
        subject: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(key) = &self.name else {
            return Ok(None);
        };
        seal(self, key, subject_hash.as_bytes(), subject.as_bytes()).map(Some)
    }

    /// `None` without a master key; `Some(None)` when the bytes do not open (tampered, or moved
    /// from another row).
    pub(crate) fn open_subject(&self, subject_hash: &str, sealed: &[u8]) -> Option<Option<String>> {
        let key = self.name.as_ref()?;
        Some(open(key, subject_hash.as_bytes(), sealed).and_then(|p| String::from_utf8(p).ok()))
    }

    /// What the async spool protects its lines with (a copy, for the writer's callers).
    pub(crate) fn spool_key(&self) -> SpoolKey {
        self.spool.clone()
    }

    pub(crate) fn random<const N: usize>(&self) -> Result<[u8; N], StoreError> {
        fill(&self.rng)
    }

    /// A fresh data key, and the same wrapped by the master key (bound to `subject_hash`).
    pub(crate) fn new_data_key(
        &self,
        subject_hash: &str,
    ) -> Result<([u8; 32], Vec<u8>), StoreError> {
        let wrap = self.wrap.as_ref().ok_or_else(no_master)?;
        let key = self.random::<32>()?;
        let wrapped = seal(self, wrap, subject_hash.as_bytes(), &key)?;
        Ok((key, wrapped))
    }

    pub(crate) fn unwrap_data_key(
        &self,
        subject_hash: &str,
        wrapped: &[u8],
    ) -> Result<[u8; 32], StoreError> {
        let wrap = self.wrap.as_ref().ok_or_else(no_master)?;
        let plain = open(wrap, subject_hash.as_bytes(), wrapped)
            .ok_or_else(|| StoreError::new("a data key could not be unwrapped"))?;
        plain
            .try_into()
            .map_err(|_| StoreError::new("a data key has the wrong length"))
    }

    /// nonce || ciphertext || tag, with the record id as associated data.
    pub(crate) fn encrypt_payload(
        &self,
        data_key: &[u8; 32],
        id: &str,
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        seal(self, &aead_key(data_key)?, id.as_bytes(), plain)
    }

    pub(crate) fn decrypt_payload(
        &self,
        data_key: &[u8; 32],
        id: &str,
        sealed: &[u8],
    ) -> Option<Vec<u8>> {
        open(&aead_key(data_key).ok()?, id.as_bytes(), sealed)
    }

    /// Signs `msg` when a master key is present.
    pub(crate) fn sign(&self, msg: &[u8]) -> Option<String> {
        self.signer.as_ref().map(|k| hex(k.sign(msg).as_ref()))
    }

    /// `None` when there is no master key to derive the public key from.
    pub(crate) fn check_signature(&self, msg: &[u8], signature_hex: &str) -> Option<bool> {
        let signer = self.signer.as_ref()?;
        let Some(sig) = unhex(signature_hex) else {
            return Some(false);
        };
        let public = UnparsedPublicKey::new(&ED25519, signer.public_key().as_ref());
        Some(public.verify(msg, &sig).is_ok())
    }
}

/// How spooled records are kept from sitting on disk in clear.
#[derive(Clone)]
pub(crate) enum SpoolKey {
    /// With a master key: each line sealed with AES-256-GCM under a key derived from it.
    Sealed([u8; 32]),
    /// Without one: no payload is kept anyway, and the subject is spooled as its salted hash.
    Salted(Vec<u8>),
}

/// Seals `plain` under a raw key (nonce || ciphertext || tag).
pub(crate) fn seal_with(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, StoreError> {
    let rng = SystemRandom::new();
    let nonce = fill::<NONCE_LEN>(&rng)?;
    let mut buf = plain.to_vec();
    aead_key(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| StoreError::new("encryption failed"))?;
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

pub(crate) fn open_with(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    open(&aead_key(key).ok()?, aad, sealed)
}

/// The keyless subject hash (see [`SubjectHasher::Salted`]).
pub(crate) fn salted_hash(salt: &[u8], subject: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(salt);
    ctx.update(subject.as_bytes());
    hex(ctx.finish().as_ref())
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    fill(&SystemRandom::new())
}

fn fill<const N: usize>(rng: &SystemRandom) -> Result<[u8; N], StoreError> {
    let mut out = [0u8; N];
    rng.fill(&mut out)
        .map_err(|_| StoreError::new("the system random source failed"))?;
    Ok(out)
}

fn no_master() -> StoreError {
    StoreError::new("a master key is needed to encrypt or decrypt payloads")
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, StoreError> {
    let k = UnboundKey::new(&AES_256_GCM, key).map_err(|_| StoreError::new("invalid AES key"))?;
    Ok(LessSafeKey::new(k))
}

fn seal(keys: &Keys, key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, StoreError> {
    let nonce = keys.random::<NONCE_LEN>()?;
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| StoreError::new("encryption failed"))?;
    let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

fn open(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = body.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    Some(plain.to_vec())
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let nib = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&b), "0001abff");
        assert_eq!(unhex("0001abff").as_deref(), Some(&b[..]));
        assert_eq!(unhex("0g"), None);
    }

    #[test]
    fn payload_and_key_wrapping_round_trip() {
        let keys = Keys::new(Some(&[7u8; 32]), b"salt").unwrap();
        let (dk, wrapped) = keys.new_data_key("h").unwrap();
        assert_eq!(keys.unwrap_data_key("h", &wrapped).unwrap(), dk);
        assert!(keys.unwrap_data_key("other", &wrapped).is_err());
        let sealed = keys.encrypt_payload(&dk, "id1", b"hello").unwrap();
        assert_eq!(
            keys.decrypt_payload(&dk, "id1", &sealed).as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(keys.decrypt_payload(&dk, "id2", &sealed), None);
    }

    #[test]
    fn signatures_check_against_the_derived_key() {
        let keys = Keys::new(Some(&[7u8; 32]), b"salt").unwrap();
        let sig = keys.sign(b"m").unwrap();
        assert_eq!(keys.check_signature(b"m", &sig), Some(true));
        assert_eq!(keys.check_signature(b"n", &sig), Some(false));
        let other = Keys::new(Some(&[8u8; 32]), b"salt").unwrap();
        assert_eq!(other.check_signature(b"m", &sig), Some(false));
        assert_eq!(
            Keys::new(None, b"s").unwrap().check_signature(b"m", &sig),
            None
        );
    }
}
