//! Signature validity: RFC 8032 test vectors, and adversarial signatures and keys, checked
//! against Tally's rule (ZIP-215 with weak keys refused; `tally_types::keys`), and the batch
//! check against the single check on all of them.
//!
//! The adversarial cases are built from curve facts with curve25519-dalek, and each test first
//! shows with plain curve arithmetic which verification equation its signature satisfies
//! (cofactorless `[S]B = R + [k]A` or cofactored `[8][S]B = [8]R + [8][k]A`), so an
//! acceptance or a refusal is the rule's and not an accident of a malformed input. The twelve
//! vectors of "Taming the many EdDSAs" (Chalkias, Garillot, Nikolaenko; SSR 2020) are checked
//! as published, each with the verdict ZIP-215 gives it.
//!
//! Batch against single: `verify_batch` must give every signature the verdict `verify_raw`
//! gives it, alone and at every position of a batch of honest signatures, and `check_batch`
//! and `Certificate::verify` must agree with their one-by-one forms.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};
use tally_types::codec::BoundedVec;
use tally_types::consensus::{
    Certificate, CertificateError, Subject, ValidatorSet, ValidatorSetError, verify_signed_batch,
};
use tally_types::ids::{ChainId, ValidatorIndex, View};
use tally_types::keys::{
    ADDRESS_HRP, KeyError, Namespace, PublicKey, SecretKey, Signature, SignatureItem, verify_batch,
};
use tally_types::tx::{SignedTransaction, Transaction, TxFormError, check_batch};

fn hex32(text: &str) -> [u8; 32] {
    hex::decode(text).expect("hex").try_into().expect("32 bytes")
}

fn hex64(text: &str) -> [u8; 64] {
    hex::decode(text).expect("hex").try_into().expect("64 bytes")
}

/// RFC 8032 §7.1: (name, secret key, public key, message, signature).
const RFC8032_VECTORS: [(&str, &str, &str, &str, &str); 4] = [
    (
        "TEST 1",
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "TEST 2",
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "TEST 3",
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
    (
        "TEST 1024",
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        concat!(
            "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1",
            "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
            "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a",
            "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
            "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10",
            "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
            "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d",
            "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
            "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b",
            "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
            "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b",
            "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
            "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d",
            "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
            "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7",
            "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
            "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09",
            "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
            "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161",
            "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
            "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca",
            "c60c905c15fc910840b94c00a0b9d0",
        ),
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
    ),
];

/// RFC 8032 §7.1 TEST SHA(abc): the message is SHA-512("abc").
const RFC8032_SHA_ABC: (&str, &str, &str) = (
    "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
    "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
);

fn check_rfc8032(name: &str, seed: &str, public: &str, message: &[u8], signature: &str) {
    let key = SecretKey::from_seed(&hex32(seed));
    let expected_public = PublicKey(hex32(public));
    let expected_signature = Signature(hex64(signature));
    assert_eq!(key.public_key(), expected_public, "{name}: public key derivation");
    assert_eq!(key.sign_raw(message), expected_signature, "{name}: signature");
    assert_eq!(expected_public.validate(), Ok(()), "{name}: key validity");
    assert_eq!(expected_public.verify_raw(message, &expected_signature), Ok(()), "{name}: verification");
    // One flipped bit anywhere in the signature, or in the message, breaks it.
    for bit in [0, 255, 256, 511] {
        let mut tampered = expected_signature;
        tampered.0[bit / 8] ^= 1 << (bit % 8);
        assert!(expected_public.verify_raw(message, &tampered).is_err(), "{name}: signature bit {bit}");
    }
    let mut longer = message.to_vec();
    longer.push(0);
    assert_eq!(
        expected_public.verify_raw(&longer, &expected_signature),
        Err(KeyError::BadSignature),
        "{name}"
    );
}

#[test]
fn rfc8032_test_vectors() {
    for (name, seed, public, message, signature) in RFC8032_VECTORS {
        check_rfc8032(name, seed, public, &hex::decode(message).expect("hex"), signature);
    }
    assert_eq!(hex::decode(RFC8032_VECTORS[3].3).expect("hex").len(), 1023, "TEST 1024 signs 1023 bytes");
    let digest: [u8; 64] = Sha512::digest(b"abc").into();
    let (seed, public, signature) = RFC8032_SHA_ABC;
    check_rfc8032("TEST SHA(abc)", seed, public, &digest, signature);

    // All five in one batch, and each with one bit of its signature flipped.
    let mut cases: Vec<Case> = RFC8032_VECTORS
        .iter()
        .map(|(_, _, public, message, signature)| Case {
            key: PublicKey(hex32(public)),
            message: hex::decode(message).expect("hex"),
            signature: Signature(hex64(signature)),
        })
        .collect();
    cases.push(Case {
        key: PublicKey(hex32(public)),
        message: digest.to_vec(),
        signature: Signature(hex64(signature)),
    });
    let tampered: Vec<Case> = cases
        .iter()
        .map(|case| {
            let mut bad = case.clone();
            bad.signature.0[40] ^= 1;
            bad
        })
        .collect();
    cases.extend(tampered);
    let verdicts = assert_batch_equals_single(&cases);
    assert_eq!(verdicts[..5], [Ok(()), Ok(()), Ok(()), Ok(()), Ok(())]);
    assert!(verdicts[5..].iter().all(|verdict| *verdict == Err(KeyError::BadSignature)));
}

// ---------------------------------------------------------------------------------------------
// Curve facts used to build adversarial inputs.

/// The group order L = 2^252 + 27742317777372353535851937790883648493, little endian.
const GROUP_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The field prime p = 2^255 - 19, little endian.
const FIELD_PRIME: [u8; 32] = [
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// The canonical encodings of the eight points of small order, as published (e.g. in
/// libsodium's blocklist): identity, order 2, two of order 4, four of order 8.
const SMALL_ORDER_CANONICAL: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
];

/// The non-canonical encodings that still decode to a small-order point: the identity and the
/// order-2 point with the sign bit set on x = 0, and y + p in place of y = 1 (identity) and
/// y = 0 (order 4), with either sign bit. The order-8 points have no such forms: their y is far
/// above 19, so y + p does not fit in 255 bits.
const SMALL_ORDER_NON_CANONICAL: [&str; 6] = [
    "0100000000000000000000000000000000000000000000000000000000000080",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

/// `a + b` as 256-bit little-endian integers, or `None` on overflow.
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

/// Every 32-byte string that decodes (in curve25519-dalek, which ed25519-dalek uses) to a
/// point of small order: the canonical encodings, plus the non-canonical ones — a sign bit
/// set on x = 0, or y + p in place of y where that still fits in 255 bits.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = Vec::new();
    for point in EIGHT_TORSION {
        let canonical = point.compress().to_bytes();
        let mut y = canonical;
        y[31] &= 0x7f;
        let sign = canonical[31] & 0x80;
        let mut candidates = vec![canonical, {
            let mut flipped = canonical;
            flipped[31] ^= 0x80;
            flipped
        }];
        if let Some(mut unreduced) = add_le(&y, &FIELD_PRIME).filter(|sum| sum[31] & 0x80 == 0) {
            unreduced[31] |= sign;
            candidates.push(unreduced);
            unreduced[31] ^= 0x80;
            candidates.push(unreduced);
        }
        for candidate in candidates {
            let decodes_to_point = CompressedEdwardsY(candidate).decompress() == Some(point);
            if decodes_to_point && !out.contains(&candidate) {
                out.push(candidate);
            }
        }
    }
    out
}

fn identity_bytes() -> [u8; 32] {
    EdwardsPoint::default().compress().to_bytes()
}

/// SHA-512(R || A || M) reduced mod L: the Ed25519 challenge.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(r);
    hasher.update(a);
    hasher.update(message);
    let digest: [u8; 64] = hasher.finalize().into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// The secret scalar of an RFC 8032 seed.
fn secret_scalar(seed: &[u8; 32]) -> Scalar {
    let digest: [u8; 64] = Sha512::digest(seed).into();
    let lower: [u8; 32] = digest[..32].try_into().expect("32 of 64 bytes");
    Scalar::from_bytes_mod_order(clamp_integer(lower))
}

/// How a lax verifier reads a signature.
#[derive(Clone, Copy, Debug)]
struct Lax {
    /// Checks `[8]([S]B - R - [k]A) = 0` instead of `[S]B = R + [k]A`.
    cofactored: bool,
    /// Hashes the canonical re-encodings of R and A rather than the bytes given.
    reencode: bool,
}

impl Lax {
    const ALL: [Lax; 4] = [
        Lax { cofactored: false, reencode: false },
        Lax { cofactored: false, reencode: true },
        Lax { cofactored: true, reencode: false },
        Lax { cofactored: true, reencode: true },
    ];

    /// Whether this verifier accepts. S is always reduced mod L, as a verifier without a
    /// canonicity check does, which is what makes S + L malleable.
    fn accepts(self, public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
        let r_bytes: [u8; 32] = signature[..32].try_into().expect("R");
        let s_bytes: [u8; 32] = signature[32..].try_into().expect("S");
        let (Some(a), Some(r)) =
            (CompressedEdwardsY(*public).decompress(), CompressedEdwardsY(r_bytes).decompress())
        else {
            return false;
        };
        let s = Scalar::from_bytes_mod_order(s_bytes);
        let k = if self.reencode {
            challenge(&r.compress().to_bytes(), &a.compress().to_bytes(), message)
        } else {
            challenge(&r_bytes, public, message)
        };
        let difference = EdwardsPoint::mul_base(&s) - r - k * a;
        if self.cofactored { difference.mul_by_cofactor().is_identity() } else { difference.is_identity() }
    }
}

/// The cofactorless equation `[S]B = R + [k]A`, which RFC 8032 permits and many libraries use.
fn cofactorless_accepts(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    Lax { cofactored: false, reencode: false }.accepts(public, message, signature)
}

/// The cofactored equation `[8][S]B = [8]R + [8][k]A`.
fn cofactored_accepts(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    Lax { cofactored: true, reencode: false }.accepts(public, message, signature)
}

fn signature_of(r: &[u8; 32], s: &[u8; 32]) -> Signature {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(r);
    bytes[32..].copy_from_slice(s);
    Signature(bytes)
}

fn chain() -> ChainId {
    ChainId::new("tally-adversarial").expect("valid chain id")
}

// ---------------------------------------------------------------------------------------------

#[test]
fn curve_facts_agree_with_the_published_small_order_points() {
    let canonical: Vec<String> =
        EIGHT_TORSION.iter().map(|point| hex::encode(point.compress().to_bytes())).collect();
    for published in SMALL_ORDER_CANONICAL {
        assert!(
            canonical.iter().any(|c| c == published),
            "{published} is not one of the eight torsion points"
        );
    }
    for point in EIGHT_TORSION {
        assert!(point.mul_by_cofactor().is_identity());
    }
    let basepoint = ED25519_BASEPOINT_POINT;
    assert!(!basepoint.is_small_order());
    // L · B = identity: GROUP_ORDER is the order of the base point.
    let order_minus_one = Scalar::ZERO - Scalar::ONE;
    let mut order_plus_zero = order_minus_one.to_bytes();
    order_plus_zero = add_le(&order_plus_zero, &{
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    })
    .expect("L fits 256 bits");
    assert_eq!(order_plus_zero, GROUP_ORDER);
    // y = p is y = 0 unreduced: both decode to the same point of order 4.
    let zero = CompressedEdwardsY([0u8; 32]).decompress().expect("y = 0 is on the curve");
    assert_eq!(CompressedEdwardsY(FIELD_PRIME).decompress(), Some(zero));
    assert!(!zero.is_identity() && (zero + zero + zero + zero).is_identity());
}

#[test]
fn every_small_order_key_encoding_is_refused() {
    let encodings = small_order_encodings();
    // Exactly the eight canonical encodings and six non-canonical ones, all of which
    // ed25519-dalek's `VerifyingKey::from_bytes` accepts.
    let mut expected: Vec<[u8; 32]> =
        SMALL_ORDER_CANONICAL.iter().chain(&SMALL_ORDER_NON_CANONICAL).map(|text| hex32(text)).collect();
    let mut found = encodings.clone();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
    let hrp = bech32::Hrp::parse(ADDRESS_HRP).expect("valid hrp");
    for bytes in &encodings {
        let key = PublicKey(*bytes);
        let shown = hex::encode(bytes);
        assert_eq!(key.validate(), Err(KeyError::WeakKey), "{shown}");
        let address = bech32::encode::<bech32::Bech32m>(hrp, bytes).expect("32 bytes encode");
        assert_eq!(PublicKey::from_address(&address), Err(KeyError::WeakKey), "address of {shown}");
        assert_eq!(address.parse::<PublicKey>(), Err(KeyError::WeakKey), "address of {shown}");
        assert_eq!(PublicKey::from_hex(&shown), Err(KeyError::WeakKey), "{shown}");
        assert!(serde_json::from_value::<PublicKey>(serde_json::Value::String(address)).is_err(), "{shown}");
    }
}

#[test]
fn any_message_trick_with_a_small_order_key_is_refused_as_a_weak_key() {
    // A = identity, R = identity, S = 0 satisfies [S]B = R + [k]A for every message, and
    // ZIP-215 on its own accepts it: refusing small-order keys (rule 1) is what stops it.
    let identity = identity_bytes();
    let forged = signature_of(&identity, &[0u8; 32]);
    for message in [&b""[..], b"transfer everything", &[0xff; 300]] {
        assert!(cofactorless_accepts(&identity, message, &forged.0), "the trick works on a lax verifier");
        assert!(zip215_accepts(&identity, message, &forged.0), "and under ZIP-215 alone");
        assert_eq!(PublicKey(identity).verify_raw(message, &forged), Err(KeyError::WeakKey));
    }
    // The same with every small-order key and R encoding, canonical or not, through the
    // namespaced entry point and in batches.
    let mut cases = Vec::new();
    for key in small_order_encodings() {
        for r in small_order_encodings() {
            let forged = signature_of(&r, &[0u8; 32]);
            assert!(
                zip215_accepts(&key, b"message", &forged.0),
                "ZIP-215 alone accepts A = {}",
                hex::encode(key)
            );
            assert_eq!(PublicKey(key).verify_raw(b"message", &forged), Err(KeyError::WeakKey));
            assert_eq!(
                PublicKey(key).verify(Namespace::Tx, &chain(), b"payload", &forged),
                Err(KeyError::WeakKey)
            );
            cases.push(Case { key: PublicKey(key), message: b"message".to_vec(), signature: forged });
        }
    }
    let verdicts = assert_batch_equals_single(&cases);
    assert!(verdicts.iter().all(|verdict| *verdict == Err(KeyError::WeakKey)));
}

/// ZIP-215 accepts a small-order `R` (canonical or not) when `S = k·a`: the cofactored
/// equation ignores the small-order part. Only the holder of the secret scalar `a` can make
/// such a signature, so it is another signature by the signer, not a forgery; with `S = 0`,
/// which anyone could write, it is refused.
#[test]
fn small_order_r_made_by_the_key_holder_is_valid_and_by_anyone_else_is_not() {
    let seed = [42u8; 32];
    let key = SecretKey::from_seed(&seed);
    let public = key.public_key();
    let a = secret_scalar(&seed);
    assert_eq!(EdwardsPoint::mul_base(&a).compress().to_bytes(), public.0, "secret scalar derivation");
    let message = b"pay 1000 ACME to mallory";
    let mut cases = Vec::new();
    for r in small_order_encodings() {
        // S = k·a: then [S]B = [k]A, and R + [k]A differs from it only by the small-order R.
        let k = challenge(&r, &public.0, message);
        let by_holder = signature_of(&r, &(k * a).to_bytes());
        assert!(
            cofactored_accepts(&public.0, message, &by_holder.0),
            "a cofactored verifier accepts R = {}",
            hex::encode(r)
        );
        let identity_r = CompressedEdwardsY(r).decompress().is_some_and(|point| point.is_identity());
        assert_eq!(
            cofactorless_accepts(&public.0, message, &by_holder.0),
            identity_r,
            "R = {}",
            hex::encode(r)
        );
        assert_eq!(public.verify_raw(message, &by_holder), Ok(()), "R = {}", hex::encode(r));
        let by_anyone = signature_of(&r, &[0u8; 32]);
        assert_eq!(
            public.verify_raw(message, &by_anyone),
            Err(KeyError::BadSignature),
            "R = {}",
            hex::encode(r)
        );
        cases.push(Case { key: public, message: message.to_vec(), signature: by_holder });
        cases.push(Case { key: public, message: message.to_vec(), signature: by_anyone });
    }
    let verdicts = assert_batch_equals_single(&cases);
    assert_eq!(verdicts.iter().filter(|verdict| verdict.is_ok()).count(), small_order_encodings().len());
}

#[test]
fn non_canonical_s_is_refused() {
    let key = SecretKey::from_seed(&[7; 32]);
    let public = key.public_key();
    let message = b"malleable?";
    let signature = key.sign_raw(message);
    assert_eq!(public.verify_raw(message, &signature), Ok(()));
    let r: [u8; 32] = signature.0[..32].try_into().expect("R");
    let s: [u8; 32] = signature.0[32..].try_into().expect("S");
    let mut malleated = Vec::new();
    // S + L, S + 2L, ...: the same scalar mod L, so a reducing verifier accepts them all.
    let mut multiple = s;
    let mut tried = 0;
    while let Some(next) = add_le(&multiple, &GROUP_ORDER) {
        multiple = next;
        tried += 1;
        assert_eq!(Scalar::from_bytes_mod_order(multiple), Scalar::from_bytes_mod_order(s));
        let signature = signature_of(&r, &multiple);
        assert!(
            cofactorless_accepts(&public.0, message, &signature.0),
            "S + {tried}L passes a reducing verifier"
        );
        assert!(!zip215_accepts(&public.0, message, &signature.0), "S + {tried}L fails ZIP-215");
        assert_eq!(public.verify_raw(message, &signature), Err(KeyError::BadSignature), "S + {tried}L");
        malleated.push(signature);
    }
    assert!(tried >= 1, "S + L fits in 256 bits");
    // S with the top bits set ("S >> L" in the Taming vectors), and S = L exactly, which
    // reduces to zero.
    let mut high = s;
    high[31] |= 0xe0;
    for signature in [signature_of(&r, &high), signature_of(&r, &GROUP_ORDER)] {
        assert_eq!(public.verify_raw(message, &signature), Err(KeyError::BadSignature));
        malleated.push(signature);
    }
    let cases: Vec<Case> = std::iter::once(signature)
        .chain(malleated)
        .map(|signature| Case { key: public, message: message.to_vec(), signature })
        .collect();
    let verdicts = assert_batch_equals_single(&cases);
    assert_eq!(verdicts[0], Ok(()));
    assert!(verdicts[1..].iter().all(|verdict| *verdict == Err(KeyError::BadSignature)));
}

#[test]
fn weak_keys_are_refused_where_keys_are_registered_or_used() {
    let identity = PublicKey(identity_bytes());
    // A validator set with a weak key is refused at construction.
    let mut keys: Vec<PublicKey> = (1..=4u8).map(|i| SecretKey::from_seed(&[i; 32]).public_key()).collect();
    keys[2] = identity;
    assert_eq!(
        ValidatorSet::new(keys.clone()),
        Err(ValidatorSetError::BadKey { index: 2, error: KeyError::WeakKey })
    );

    // Decoding runs the same checks: a set with a weak key does not decode at all, so it can
    // never certify anything.
    let mut unchecked = (keys.len() as u32).to_le_bytes().to_vec();
    for key in &keys {
        unchecked.extend_from_slice(&key.0);
    }
    let error = tally_types::decode::<ValidatorSet>(&unchecked).expect_err("weak key refused on decode");
    assert!(error.to_string().contains("weak"), "{error}");

    // A transaction from a weak signer is malformed, whatever its signature: here the
    // "any message verifies" signature for the identity key.
    let forged = signature_of(&identity_bytes(), &[0u8; 32]);
    let tx = Transaction {
        chain_id: chain(),
        signer: identity,
        seq: 1,
        valid_until_height: tally_types::Height(10),
        ops: BoundedVec::new(vec![tally_types::Op::Void(tally_types::tx::Void {
            hold_id: tally_types::OpId([1; 16]),
        })])
        .expect("one op"),
        memo: tally_types::BoundedBytes::empty(),
    };
    let signed = SignedTransaction { tx, signature: forged };
    assert_eq!(signed.check_form_and_signature(), Err(TxFormError::BadSigner(KeyError::WeakKey)));
    assert_eq!(check_batch(&[signed]), vec![Err(TxFormError::BadSigner(KeyError::WeakKey))]);
}

/// A key that is not a point: y = 2 is not the y-coordinate of any point.
fn not_on_curve() -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 2;
    PublicKey(bytes)
}

fn transfer_to(to: PublicKey) -> tally_types::Op {
    tally_types::Op::Transfer(tally_types::tx::Transfer {
        asset: "ACME@acme".parse().expect("a valid asset id"),
        to,
        amount: tally_types::Amount(1),
    })
}

/// Every key a transaction names meets the signature rule's key checks, or the transaction is
/// malformed: a recipient off the curve or weak could never sign, and the ledger would hold a
/// key its JSON form cannot carry (found by fuzzing the wire codec).
#[test]
fn every_key_a_transaction_names_must_be_a_valid_point_and_not_weak() {
    let signer = SecretKey::from_seed(&[5; 32]);
    let honest = signer.public_key();
    let weak = PublicKey(identity_bytes());
    let with_ops = |ops: Vec<tally_types::Op>| {
        let mut tx = transaction(&signer, 1);
        tx.ops = BoundedVec::new(ops).expect("a few ops");
        tx.sign(&signer)
    };
    let grant = |to| {
        tally_types::Op::Grant(tally_types::tx::Grant {
            grant_id: tally_types::OpId([1; 16]),
            asset: "ACME@acme".parse().expect("a valid asset id"),
            to,
            amount: tally_types::Amount(1),
            kind: tally_types::tx::GrantKind::Purchase,
            reason: None,
            external_ref: tally_types::BoundedString::new(String::new()).expect("empty"),
            pack: None,
        })
    };
    let hold = |holder| {
        tally_types::Op::Hold(tally_types::tx::Hold {
            hold_id: tally_types::OpId([2; 16]),
            holder,
            asset: "ACME@acme".parse().expect("a valid asset id"),
            amount: tally_types::Amount(1),
            expires_at_ms: 1,
        })
    };
    let remove = |consensus_key| {
        tally_types::Op::Propose(Box::new(tally_types::governance::Propose {
            proposal_id: tally_types::OpId([3; 16]),
            action: tally_types::governance::Action::RemoveValidator { consensus_key },
            expires_at_height: tally_types::Height(9),
        }))
    };
    let cases: Vec<(Vec<tally_types::Op>, Option<TxFormError>)> = vec![
        (vec![transfer_to(honest), grant(honest), hold(honest), remove(honest)], None),
        (vec![transfer_to(weak)], Some(TxFormError::BadKey { op: 0, key: weak, reason: KeyError::WeakKey })),
        (
            vec![transfer_to(honest), grant(not_on_curve())],
            Some(TxFormError::BadKey { op: 1, key: not_on_curve(), reason: KeyError::InvalidPoint }),
        ),
        (
            vec![hold(not_on_curve())],
            Some(TxFormError::BadKey { op: 0, key: not_on_curve(), reason: KeyError::InvalidPoint }),
        ),
        (
            vec![transfer_to(honest), transfer_to(honest), remove(weak)],
            Some(TxFormError::BadKey { op: 2, key: weak, reason: KeyError::WeakKey }),
        ),
    ];
    for (ops, expected) in cases {
        let tx = with_ops(ops);
        let verdict = tx.check_form_and_signature();
        assert_eq!(verdict.clone().err(), expected, "{:?}", tx.tx.ops);
        assert_eq!(check_batch(std::slice::from_ref(&tx)), vec![verdict]);
        if expected.is_none() {
            // What the ledger accepts, its JSON carries.
            let text = serde_json::to_string(&tx).expect("JSON");
            assert_eq!(serde_json::from_str::<SignedTransaction>(&text).expect("reads back"), tx);
        }
    }
}

/// The keys of a governance action are named keys too: an application's issuer, consensus and
/// network keys (to add a member or a validator, or rotate a key) and the key a rotation or
/// removal replaces. A bad one at any of these places makes the proposal malformed.
#[test]
fn every_key_a_governance_action_names_is_checked() {
    use tally_types::governance::{Action, ApplicationBody, ApplicationProofs, Propose, SignedApplication};
    let signer = SecretKey::from_seed(&[5; 32]);
    let honest = signer.public_key();
    let other = SecretKey::from_seed(&[6; 32]).public_key();
    let weak = PublicKey(identity_bytes());
    let application = |issuer, consensus_key, network_key| SignedApplication {
        body: ApplicationBody {
            chain_id: ChainId::new("tally-test").expect("valid"),
            member: "acme".parse().expect("valid"),
            member_name: tally_types::BoundedString::new("Acme").expect("short"),
            issuer,
            asset_code: "ACME".parse().expect("valid"),
            asset_scale: 2,
            validator_name: tally_types::BoundedString::new("acme-1").expect("short"),
            consensus_key,
            network_key,
            p2p_listen: tally_types::BoundedString::new("/ip4/127.0.0.1/tcp/1").expect("short"),
            http_listen: tally_types::BoundedString::new("127.0.0.1:2").expect("short"),
        },
        proofs: ApplicationProofs {
            consensus: Signature([0; 64]),
            network: Signature([0; 64]),
            issuer: None,
        },
    };
    let propose = |action| {
        tally_types::Op::Propose(Box::new(Propose {
            proposal_id: tally_types::OpId([3; 16]),
            action,
            expires_at_height: tally_types::Height(9),
        }))
    };
    // Each action with the bad key at each place it can be; the good form names them in order.
    let actions = |bad: PublicKey| -> Vec<(Action, Vec<PublicKey>)> {
        vec![
            (Action::AddMember { application: application(bad, honest, other) }, vec![bad, honest, other]),
            (Action::AddMember { application: application(honest, bad, other) }, vec![honest, bad, other]),
            (Action::AddValidator { application: application(honest, other, bad) }, vec![honest, other, bad]),
            (
                Action::RotateValidatorKey {
                    consensus_key: bad,
                    application: application(honest, other, honest),
                },
                vec![bad, honest, other, honest],
            ),
            (
                Action::RotateValidatorKey {
                    consensus_key: honest,
                    application: application(honest, bad, other),
                },
                vec![honest, honest, bad, other],
            ),
        ]
    };
    for (action, keys) in actions(other) {
        let op = propose(action);
        assert_eq!(op.named_keys().into_iter().copied().collect::<Vec<_>>(), keys.clone());
        let mut tx = transaction(&signer, 1);
        tx.ops = BoundedVec::new(vec![op]).expect("one op");
        assert_eq!(tx.sign(&signer).check_form_and_signature(), Ok(()), "{keys:?}");
    }
    for bad in [weak, not_on_curve()] {
        let reason = bad.validate().expect_err("a bad key");
        for (action, keys) in actions(bad) {
            let op = propose(action);
            assert_eq!(op.named_keys().into_iter().copied().collect::<Vec<_>>(), keys);
            let mut tx = transaction(&signer, 1);
            tx.ops = BoundedVec::new(vec![transfer_to(honest), op]).expect("two ops");
            let tx = tx.sign(&signer);
            let expected = TxFormError::BadKey { op: 1, key: bad, reason: reason.clone() };
            assert_eq!(tx.check_form_and_signature(), Err(expected.clone()), "{keys:?}");
            assert_eq!(check_batch(std::slice::from_ref(&tx)), vec![Err(expected)]);
        }
    }
}

/// JSON readers take any key the ledger takes: a key with a small-order component passes the
/// signature rule (it may sign and receive), so its JSON form must read back; keys people type
/// get the stricter check.
#[test]
fn json_reads_every_key_the_ledger_accepts_and_typed_keys_stay_strict() {
    let mixed_hex = "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d";
    let mixed = PublicKey(hex::decode(mixed_hex).expect("hex").try_into().expect("32 bytes"));
    assert_eq!(mixed.validate(), Ok(()));
    let address = serde_json::to_string(&mixed).expect("JSON");
    assert_eq!(serde_json::from_str::<PublicKey>(&address).expect("reads back"), mixed);
    assert_eq!(serde_json::from_str::<PublicKey>(&format!("\"{mixed_hex}\"")).expect("hex reads"), mixed);
    assert_eq!(mixed.to_address().parse::<PublicKey>(), Err(KeyError::MixedOrder));
    for refused in [not_on_curve(), PublicKey(identity_bytes())] {
        let text = serde_json::to_string(&refused).expect("JSON");
        let error = serde_json::from_str::<PublicKey>(&text).expect_err("refused");
        assert!(error.to_string().starts_with("public key is"), "{error}");
    }
}

#[test]
fn keys_off_the_curve_are_refused_as_invalid_points() {
    // y = 2 is not the y-coordinate of any point: (y² - 1)/(d y² + 1) is not a square.
    let mut not_on_curve = [0u8; 32];
    not_on_curve[0] = 2;
    assert!(CompressedEdwardsY(not_on_curve).decompress().is_none(), "curve fact");
    let key = PublicKey(not_on_curve);
    assert_eq!(key.validate(), Err(KeyError::InvalidPoint));
    assert_eq!(key.verify_raw(b"m", &Signature([0; 64])), Err(KeyError::InvalidPoint));
    assert_eq!(PublicKey::from_hex(&hex::encode(not_on_curve)), Err(KeyError::InvalidPoint));
    let verdicts =
        assert_batch_equals_single(&[Case { key, message: b"m".to_vec(), signature: Signature([0; 64]) }]);
    assert_eq!(verdicts, [Err(KeyError::InvalidPoint)]);
}

/// What makes a "Taming the many EdDSAs" vector adversarial, worked out from the curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feature {
    /// A and R both of small order.
    SmallOrderKeyAndR,
    SmallOrderKey,
    SmallOrderR,
    /// Mixed-order A and R (a torsion component, but neither of small order); valid under
    /// both equations.
    MixedOrderValid,
    /// Passes only the cofactored equation.
    CofactoredOnly,
    /// S ≥ L.
    NonCanonicalS,
    /// A non-canonical encoding of a small-order R.
    NonCanonicalSmallOrderR,
    /// A non-canonical encoding of a small-order A.
    NonCanonicalSmallOrderKey,
}

fn classify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> Feature {
    let r: [u8; 32] = signature[..32].try_into().expect("R");
    let s: [u8; 32] = signature[32..].try_into().expect("S");
    let point = |bytes: [u8; 32]| CompressedEdwardsY(bytes).decompress().expect("every vector decodes");
    let (a_point, r_point) = (point(*public), point(r));
    let canonical = |p: EdwardsPoint, bytes: [u8; 32]| p.compress().to_bytes() == bytes;
    match (a_point.is_small_order(), r_point.is_small_order()) {
        (true, _) if !canonical(a_point, *public) => Feature::NonCanonicalSmallOrderKey,
        (_, true) if !canonical(r_point, r) => Feature::NonCanonicalSmallOrderR,
        (true, true) => Feature::SmallOrderKeyAndR,
        (true, false) => Feature::SmallOrderKey,
        (false, true) => Feature::SmallOrderR,
        (false, false) if bool::from(Scalar::from_canonical_bytes(s).is_none()) => Feature::NonCanonicalS,
        (false, false) if !cofactorless_accepts(public, message, signature) => Feature::CofactoredOnly,
        (false, false) => Feature::MixedOrderValid,
    }
}

/// The twelve test vectors of "Taming the many EdDSAs" (message, public key, signature), as
/// the authors publish them with their ed25519-speccheck tool, the feature each one tests, and
/// the verdicts of ZIP-215 alone and of Tally's rule (ZIP-215 with weak keys refused):
///
/// | # | feature | ZIP-215 | Tally | why |
/// |---|---|---|---|---|
/// | 0 | small-order A and R, S = 0 | accept | WeakKey | both equations hold, for any message; A is weak |
/// | 1 | small-order A | accept | WeakKey | both equations hold; A is weak |
/// | 2 | small-order R | accept | accept | both equations hold; `verify_strict` refused it for its small-order R |
/// | 3 | mixed-order A and R | accept | accept | both equations hold |
/// | 4 | cofactored only | accept | accept | ZIP-215 uses the cofactored equation |
/// | 5 | cofactored only | accept | accept | as 4 |
/// | 6 | S ≥ L | refuse | BadSignature | S must be canonical |
/// | 7 | S ≥ L (top bits set) | refuse | BadSignature | as 6 |
/// | 8 | non-canonical small-order R | refuse | BadSignature | accepted only when k hashes R re-encoded; ZIP-215 hashes R as given |
/// | 9 | non-canonical small-order R | accept | accept | k hashes R as given, cofactored equation holds |
/// | 10 | non-canonical small-order A | accept | WeakKey | [8][k]A vanishes, so how k hashes A does not matter; A is weak |
/// | 11 | non-canonical small-order A | accept | WeakKey | as 10, another message |
type TamingVector = (&'static str, &'static str, &'static str, Feature, bool, Result<(), KeyError>);

const TAMING_VECTORS: [TamingVector; 12] = [
    (
        "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000",
        Feature::SmallOrderKeyAndR,
        true,
        Err(KeyError::WeakKey),
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        Feature::SmallOrderKey,
        true,
        Err(KeyError::WeakKey),
    ),
    (
        "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e",
        Feature::SmallOrderR,
        true,
        Ok(()),
    ),
    (
        "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009",
        Feature::MixedOrderValid,
        true,
        Ok(()),
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09",
        Feature::CofactoredOnly,
        true,
        Ok(()),
    ),
    (
        "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
        "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
        "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405",
        Feature::CofactoredOnly,
        true,
        Ok(()),
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514",
        Feature::NonCanonicalS,
        false,
        Err(KeyError::BadSignature),
    ),
    (
        "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
        "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
        "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22",
        Feature::NonCanonicalS,
        false,
        Err(KeyError::BadSignature),
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f",
        Feature::NonCanonicalSmallOrderR,
        false,
        Err(KeyError::BadSignature),
    ),
    (
        "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
        "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908",
        Feature::NonCanonicalSmallOrderR,
        true,
        Ok(()),
    ),
    (
        "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        Feature::NonCanonicalSmallOrderKey,
        true,
        Err(KeyError::WeakKey),
    ),
    (
        "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04",
        Feature::NonCanonicalSmallOrderKey,
        true,
        Err(KeyError::WeakKey),
    ),
];

#[test]
fn taming_the_many_eddsas_vectors() {
    let mut cases = Vec::new();
    for (index, (message, public, signature, feature, zip215, tally)) in TAMING_VECTORS.iter().enumerate() {
        let message = hex::decode(message).expect("hex");
        let key = PublicKey(hex32(public));
        let signature = Signature(hex64(signature));
        assert_eq!(classify(&key.0, &message, &signature.0), *feature, "vector {index}");
        // The ZIP-215 column, from the curve and from ed25519-consensus itself.
        assert_eq!(zip215_accepts(&key.0, &message, &signature.0), *zip215, "vector {index} ({feature:?})");
        let library = ed25519_consensus::VerificationKey::try_from(key.0)
            .and_then(|vk| vk.verify(&ed25519_consensus::Signature::from(signature.0), &message));
        assert_eq!(library.is_ok(), *zip215, "vector {index} ({feature:?}): ed25519-consensus");
        // Tally's column.
        assert_eq!(key.verify_raw(&message, &signature), *tally, "vector {index} ({feature:?})");
        // Every vector passes some lax verifier (cofactored or not, hashing R and A as given or
        // re-encoded): the refused ones are refused for their feature, not for being garbage.
        let lax = Lax::ALL.iter().any(|lax| lax.accepts(&key.0, &message, &signature.0));
        assert!(lax, "vector {index} passes no lax verifier");
        let small_order_key = matches!(
            feature,
            Feature::SmallOrderKeyAndR | Feature::SmallOrderKey | Feature::NonCanonicalSmallOrderKey
        );
        assert_eq!(key.validate().err(), small_order_key.then_some(KeyError::WeakKey), "vector {index}");
        cases.push(Case { key, message, signature });
    }
    let verdicts = assert_batch_equals_single(&cases);
    let expected: Vec<Result<(), KeyError>> = TAMING_VECTORS.iter().map(|vector| vector.5.clone()).collect();
    assert_eq!(verdicts, expected);
}

/// Vector 3's key has a torsion component without being of small order. ZIP-215 accepts
/// signatures under such a key (made with its secret scalar), so keys that are registered or
/// typed in go through `validate_strict`, which refuses it, while honest keys pass both checks.
#[test]
fn mixed_order_keys_are_refused_where_keys_are_registered() {
    let mixed_hex = "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d";
    let mixed = PublicKey(hex::decode(mixed_hex).expect("hex").try_into().expect("32 bytes"));
    assert_eq!(mixed.validate(), Ok(()));
    assert_eq!(mixed.validate_strict(), Err(KeyError::MixedOrder));
    assert_eq!(PublicKey::from_hex(mixed_hex), Err(KeyError::MixedOrder));
    assert_eq!(PublicKey::from_address(&mixed.to_address()), Err(KeyError::MixedOrder));
    let mut keys: Vec<PublicKey> =
        (1..=3u8).map(|seed| SecretKey::from_seed(&[seed; 32]).public_key()).collect();
    keys.push(mixed);
    assert!(tally_types::ValidatorSet::new(keys).is_err());
    let honest = SecretKey::from_seed(&[7; 32]).public_key();
    assert_eq!(honest.validate_strict(), Ok(()));
}

/// A = aB + T for each torsion point T ≠ identity: its holder's signatures pass the cofactored
/// equation, not the cofactorless one (unless [k]T happens to vanish), and ZIP-215 accepts them,
/// alone and in batches. Registration refuses the key (`validate_strict`).
#[test]
fn signatures_under_mixed_order_keys_follow_zip215_alone_and_in_batches() {
    let a = secret_scalar(&[11; 32]);
    let r = secret_scalar(&[12; 32]);
    let message = b"signed under a key with a torsion component";
    let mut cases = Vec::new();
    for torsion in EIGHT_TORSION.iter().filter(|point| !point.is_identity()) {
        let key = (EdwardsPoint::mul_base(&a) + torsion).compress().to_bytes();
        assert_eq!(PublicKey(key).validate(), Ok(()));
        assert_eq!(PublicKey(key).validate_strict(), Err(KeyError::MixedOrder));
        let r_bytes = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let k = challenge(&r_bytes, &key, message);
        let signature = signature_of(&r_bytes, &(r + k * a).to_bytes());
        assert!(zip215_accepts(&key, message, &signature.0));
        assert_eq!(PublicKey(key).verify_raw(message, &signature), Ok(()), "A = {}", hex::encode(key));
        cases.push(Case { key: PublicKey(key), message: message.to_vec(), signature });
    }
    assert!(
        cases.iter().any(|case| !cofactorless_accepts(&case.key.0, &case.message, &case.signature.0)),
        "some of them fail the cofactorless equation"
    );
    assert!(assert_batch_equals_single(&cases).iter().all(Result::is_ok));
}

/// R = rB + T for each torsion point T ≠ identity, S = r + k·a: the signer's own signature
/// with a mixed-order R. ZIP-215 accepts it; `verify_strict` refused it.
#[test]
fn mixed_order_r_follows_zip215_alone_and_in_batches() {
    let seed = [21u8; 32];
    let key = SecretKey::from_seed(&seed);
    let public = key.public_key();
    let a = secret_scalar(&seed);
    let r = secret_scalar(&[22; 32]);
    let message = b"mixed-order R";
    let mut cases = Vec::new();
    for torsion in EIGHT_TORSION.iter().filter(|point| !point.is_identity()) {
        let r_bytes = (EdwardsPoint::mul_base(&r) + torsion).compress().to_bytes();
        let k = challenge(&r_bytes, &public.0, message);
        let signature = signature_of(&r_bytes, &(r + k * a).to_bytes());
        assert!(!cofactorless_accepts(&public.0, message, &signature.0), "the torsion of R shows");
        assert!(zip215_accepts(&public.0, message, &signature.0));
        assert_eq!(public.verify_raw(message, &signature), Ok(()));
        // The same R with S one off: refused.
        let off = signature_of(&r_bytes, &(r + k * a + Scalar::ONE).to_bytes());
        assert_eq!(public.verify_raw(message, &off), Err(KeyError::BadSignature));
        cases.push(Case { key: public, message: message.to_vec(), signature });
        cases.push(Case { key: public, message: message.to_vec(), signature: off });
    }
    let verdicts = assert_batch_equals_single(&cases);
    for (index, verdict) in verdicts.iter().enumerate() {
        let expected = if index % 2 == 0 { Ok(()) } else { Err(KeyError::BadSignature) };
        assert_eq!(*verdict, expected, "case {index}");
    }
}

/// Non-canonical encodings of R and A (y + p in place of y, or the sign bit on x = 0): ZIP-215
/// decodes them and hashes them as given. Those of small-order points are the only ones with a
/// known discrete logarithm; the others (y = 3, 4, 5, ...) still decode, so under them a
/// random signature fails on its equation, not on decoding.
#[test]
fn non_canonical_encodings_of_r_and_a_follow_zip215_alone_and_in_batches() {
    let seed = [31u8; 32];
    let public = SecretKey::from_seed(&seed).public_key();
    let a = secret_scalar(&seed);
    let message = b"non-canonical";
    let mut cases = Vec::new();
    // Small-order R in a non-canonical encoding, S = k·a with k over R as given: valid. With k
    // over the canonical re-encoding of R (as a re-encoding verifier would hash it): refused.
    let non_canonical_r: Vec<[u8; 32]> = small_order_encodings()
        .into_iter()
        .filter(|bytes| {
            CompressedEdwardsY(*bytes).decompress().is_some_and(|p| p.compress().to_bytes() != *bytes)
        })
        .collect();
    assert_eq!(non_canonical_r.len(), SMALL_ORDER_NON_CANONICAL.len());
    for r in &non_canonical_r {
        let canonical = CompressedEdwardsY(*r).decompress().expect("decodes").compress().to_bytes();
        let as_given = signature_of(r, &(challenge(r, &public.0, message) * a).to_bytes());
        let re_encoded = signature_of(r, &(challenge(&canonical, &public.0, message) * a).to_bytes());
        assert_eq!(public.verify_raw(message, &as_given), Ok(()), "R = {}", hex::encode(r));
        assert_eq!(
            public.verify_raw(message, &re_encoded),
            Err(KeyError::BadSignature),
            "R = {}",
            hex::encode(r)
        );
        cases.push(Case { key: public, message: message.to_vec(), signature: as_given });
        cases.push(Case { key: public, message: message.to_vec(), signature: re_encoded });
    }
    // Points of larger order with y < 19, encoded as y + p: valid keys and R values.
    let mut unreduced = Vec::new();
    for y in 0u8..19 {
        for sign in [0, 0x80] {
            let mut canonical = [0u8; 32];
            canonical[0] = y;
            let mut bytes = add_le(&canonical, &FIELD_PRIME).expect("y + p fits");
            bytes[31] |= sign;
            if let Some(point) = CompressedEdwardsY(bytes).decompress().filter(|p| !p.is_small_order()) {
                assert_ne!(point.compress().to_bytes(), bytes, "non-canonical");
                unreduced.push(bytes);
            }
        }
    }
    assert!(unreduced.len() >= 10, "{} such encodings", unreduced.len());
    let honest = SecretKey::from_seed(&seed).sign_raw(message);
    for bytes in &unreduced {
        assert_eq!(PublicKey(*bytes).validate(), Ok(()), "{}", hex::encode(bytes));
        let mut random_r = honest;
        random_r.0[..32].copy_from_slice(bytes);
        for case in [
            Case { key: PublicKey(*bytes), message: message.to_vec(), signature: honest },
            Case { key: public, message: message.to_vec(), signature: random_r },
        ] {
            assert_eq!(case.key.verify_raw(&case.message, &case.signature), Err(KeyError::BadSignature));
            cases.push(case);
        }
    }
    // Small-order A in a non-canonical encoding: weak, whatever the signature.
    for key in small_order_encodings() {
        cases.push(Case { key: PublicKey(key), message: message.to_vec(), signature: honest });
    }
    let verdicts = assert_batch_equals_single(&cases);
    assert_eq!(verdicts.iter().filter(|verdict| verdict.is_ok()).count(), non_canonical_r.len());
}

/// `validate` (the key checks of the signature rule: decodes, not of small order) agrees with
/// ed25519-dalek's decoding and `is_weak`, computed on the curve, on random bytes (about half
/// of them points), on every y below 19 in both encodings and signs, and on honest keys with
/// each torsion point added.
#[test]
fn validate_agrees_with_ed25519_dalek_on_points_and_weak_keys() {
    let mut random = SplitMix(0x5eed);
    let mut candidates: Vec<[u8; 32]> = (0..2_000).map(|_| random.bytes32()).collect();
    for y in 0u8..19 {
        for sign in [0, 0x80] {
            let mut canonical = [0u8; 32];
            canonical[0] = y;
            let mut unreduced = add_le(&canonical, &FIELD_PRIME).expect("y + p fits");
            canonical[31] |= sign;
            unreduced[31] |= sign;
            candidates.extend([canonical, unreduced]);
        }
    }
    candidates.extend(small_order_encodings());
    for seed in 1..=8u8 {
        let point = EdwardsPoint::mul_base(&secret_scalar(&[seed; 32]));
        candidates.extend(EIGHT_TORSION.iter().map(|torsion| (point + torsion).compress().to_bytes()));
    }
    let (mut points, mut weak) = (0, 0);
    for bytes in candidates {
        let expected = match ed25519_dalek::VerifyingKey::from_bytes(&bytes) {
            Err(_) => Err(KeyError::InvalidPoint),
            Ok(key) if key.is_weak() => Err(KeyError::WeakKey),
            Ok(_) => Ok(()),
        };
        points += usize::from(expected != Err(KeyError::InvalidPoint));
        weak += usize::from(expected == Err(KeyError::WeakKey));
        assert_eq!(PublicKey(bytes).validate(), expected, "{}", hex::encode(bytes));
    }
    assert!(points > 1_000 && weak >= small_order_encodings().len(), "{points} points, {weak} weak");
}

// ---------------------------------------------------------------------------------------------
// Batch against single on random batches.

/// Ways to spoil an honest signature, each with the error the rule gives it.
const SPOILS: usize = 8;

fn spoil(case: &Case, kind: usize) -> (Case, KeyError) {
    let mut bad = case.clone();
    let error = match kind {
        0 => {
            bad.message.push(0);
            KeyError::BadSignature
        }
        1 => {
            // S + L: the same scalar, not canonical.
            let s: [u8; 32] = bad.signature.0[32..].try_into().expect("S");
            bad.signature.0[32..].copy_from_slice(&add_le(&s, &GROUP_ORDER).expect("S + L fits"));
            KeyError::BadSignature
        }
        2 => {
            bad.signature = SecretKey::from_seed(&[0xee; 32]).sign_raw(&bad.message);
            KeyError::BadSignature
        }
        3 => {
            // The any-message trick against an honest key.
            bad.signature = signature_of(&identity_bytes(), &[0; 32]);
            KeyError::BadSignature
        }
        4 => {
            bad.key = PublicKey(identity_bytes());
            bad.signature = signature_of(&identity_bytes(), &[0; 32]);
            KeyError::WeakKey
        }
        5 => {
            bad.key.0 = [0; 32];
            bad.key.0[0] = 2; // y = 2 is not on the curve
            KeyError::InvalidPoint
        }
        6 => {
            bad.signature.0[..32].copy_from_slice(&{
                let mut not_a_point = [0u8; 32];
                not_a_point[0] = 2;
                not_a_point
            });
            KeyError::BadSignature
        }
        _ => {
            bad.signature.0[33] ^= 0x10;
            KeyError::BadSignature
        }
    };
    assert_eq!(bad.key.verify_raw(&bad.message, &bad.signature), Err(error.clone()), "spoil {kind}");
    (bad, error)
}

#[test]
fn one_bad_signature_is_found_at_every_position_of_batches_of_1_to_64() {
    let honest = honest_cases(64, 1);
    for size in 1..=64 {
        for position in 0..size {
            let mut cases = honest[..size].to_vec();
            let (bad, error) = spoil(&cases[position], (size + position) % SPOILS);
            cases[position] = bad;
            let mut expected = vec![Ok(()); size];
            expected[position] = Err(error);
            assert_eq!(batch(&cases), expected, "size {size}, bad at {position}");
        }
    }
}

#[test]
fn many_bad_signatures_are_all_found() {
    let honest = honest_cases(256, 2);
    let mut random = SplitMix(7);
    // From one bad signature in 256 to all bad, at random positions and of random kinds.
    for (trial, bad_in_256) in [1u64, 2, 5, 16, 64, 128, 200, 256].into_iter().cycle().take(24).enumerate() {
        let size = 1 + (random.next() % 256) as usize;
        let mut cases = honest[..size].to_vec();
        let mut expected = vec![Ok(()); size];
        for position in 0..size {
            if random.next() % 256 < bad_in_256 {
                let (bad, error) = spoil(&cases[position], (random.next() % SPOILS as u64) as usize);
                cases[position] = bad;
                expected[position] = Err(error);
            }
        }
        assert_eq!(batch(&cases), expected, "trial {trial}: {size} signatures, ~{bad_in_256}/256 bad");
    }
    assert_eq!(verify_batch(&[]), Vec::new());
}

// ---------------------------------------------------------------------------------------------
// Transactions and certificates in batches.

fn transaction(key: &SecretKey, seq: u64) -> Transaction {
    Transaction {
        chain_id: chain(),
        signer: key.public_key(),
        seq,
        valid_until_height: tally_types::Height(10),
        ops: BoundedVec::new(vec![tally_types::Op::Void(tally_types::tx::Void {
            hold_id: tally_types::OpId([seq as u8; 16]),
        })])
        .expect("one op"),
        memo: tally_types::BoundedBytes::empty(),
    }
}

// Not split: a table of cases checked in one loop; split up, the table would be scattered.
#[test]
fn check_batch_equals_check_form_and_signature_per_transaction() {
    let keys: Vec<SecretKey> = (1..=8u8).map(|seed| SecretKey::from_seed(&[seed; 32])).collect();
    let honest: Vec<SignedTransaction> =
        keys.iter().enumerate().map(|(i, key)| transaction(key, i as u64 + 1).sign(key)).collect();
    let good = &honest[0];
    let malformed: Vec<(SignedTransaction, TxFormError)> = vec![
        (
            {
                let mut tx = good.clone();
                tx.tx.ops = BoundedVec::new(Vec::new()).expect("empty");
                tx
            },
            TxFormError::NoOps,
        ),
        (
            {
                let mut tx = good.clone();
                tx.tx.seq = 0;
                tx
            },
            TxFormError::ZeroSeq,
        ),
        // No ops and seq 0, and a bad signature: the first check wins, as one by one.
        (
            {
                let mut tx = good.clone();
                tx.tx.ops = BoundedVec::new(Vec::new()).expect("empty");
                tx.tx.seq = 0;
                tx
            },
            TxFormError::NoOps,
        ),
        (
            {
                let mut tx = good.clone();
                tx.tx.seq = 99;
                tx
            },
            TxFormError::BadSignature,
        ),
        (
            {
                let mut tx = good.clone();
                tx.tx.chain_id = ChainId::new("tally-other").expect("valid");
                tx
            },
            TxFormError::BadSignature,
        ),
        (
            {
                let mut tx = good.clone();
                tx.tx.signer = PublicKey(identity_bytes());
                tx.signature = signature_of(&identity_bytes(), &[0; 32]);
                tx
            },
            TxFormError::BadSigner(KeyError::WeakKey),
        ),
        (
            {
                let mut tx = good.clone();
                tx.tx.signer.0 = [0; 32];
                tx.tx.signer.0[0] = 2;
                tx
            },
            TxFormError::BadSigner(KeyError::InvalidPoint),
        ),
        // A transfer to a key off the curve, signed by its honest signer: the form check
        // refuses it before the signature, alone and in a batch alike.
        (
            {
                let mut tx = good.tx.clone();
                tx.ops = BoundedVec::new(vec![transfer_to(not_on_curve())]).expect("one op");
                tx.sign(&keys[0])
            },
            TxFormError::BadKey { op: 0, key: not_on_curve(), reason: KeyError::InvalidPoint },
        ),
    ];
    assert_eq!(check_batch(&honest), vec![Ok(()); honest.len()]);
    assert_eq!(check_batch(&[]), Vec::new());
    for (kind, (bad, error)) in malformed.iter().enumerate() {
        assert_eq!(bad.check_form_and_signature(), Err(error.clone()), "kind {kind}");
        for position in 0..=honest.len() {
            let mut txs = honest.clone();
            txs.insert(position, bad.clone());
            let one_by_one: Vec<_> = txs.iter().map(SignedTransaction::check_form_and_signature).collect();
            assert_eq!(check_batch(&txs), one_by_one, "kind {kind} at {position}");
            assert_eq!(one_by_one[position], Err(error.clone()));
        }
    }
    // All of them together.
    let mixed: Vec<SignedTransaction> = malformed.iter().map(|(tx, _)| tx.clone()).chain(honest).collect();
    let one_by_one: Vec<_> = mixed.iter().map(SignedTransaction::check_form_and_signature).collect();
    assert_eq!(check_batch(&mixed), one_by_one);
}

#[test]
fn certificate_verify_checks_its_signatures_as_one_batch_and_names_the_lowest_bad_signer() {
    let keys: Vec<SecretKey> = (1..=7u8).map(|seed| SecretKey::from_seed(&[seed; 32])).collect();
    let set = ValidatorSet::new(keys.iter().map(SecretKey::public_key).collect()).expect("valid set");
    let subject = Subject::Nullify { view: View(9) };
    let votes: Vec<(ValidatorIndex, Signature)> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| (ValidatorIndex(i as u16), subject.sign(&chain(), key)))
        .collect();
    let one_by_one = |certificate: &Certificate| {
        certificate.verify_with(&set, |signer, namespace, payload, signature| {
            set.key(signer).is_some_and(|key| key.verify(namespace, &chain(), payload, signature).is_ok())
        })
    };
    // Every subset of the seven signatures spoiled: a Notarize signature in place of the
    // Nullify one, or the next validator's signature.
    for spoiled in 0u32..(1 << 7) {
        let signed: Vec<(ValidatorIndex, Signature)> = votes
            .iter()
            .map(|(index, signature)| {
                let i = usize::from(index.0);
                if spoiled & (1 << i) == 0 {
                    (*index, *signature)
                } else if i % 2 == 0 {
                    let block_id = tally_types::BlockId(tally_types::Hash::ZERO);
                    (*index, Subject::Notarize { view: View(9), block_id }.sign(&chain(), &keys[i]))
                } else {
                    (*index, votes[(i + 1) % 7].1)
                }
            })
            .collect();
        let certificate = Certificate::from_votes(subject, &signed, 7).expect("arranged");
        let expected = match (0..7).find(|i| spoiled & (1 << i) != 0) {
            Some(lowest) => Err(CertificateError::BadSignature(ValidatorIndex(lowest))),
            None => Ok(()),
        };
        assert_eq!(certificate.verify(&chain(), &set), expected, "spoiled {spoiled:07b}");
        assert_eq!(one_by_one(&certificate), expected, "spoiled {spoiled:07b}");
    }
    // The shape checks come before any signature.
    let short = Certificate::from_votes(subject, &votes[..4], 7).expect("arranged");
    assert_eq!(short.verify(&chain(), &set), Err(CertificateError::NoQuorum { have: 4, need: 5 }));
    // The batch verifier fails an unknown signer and judges the others.
    let payload = subject.payload();
    let verdicts = verify_signed_batch(
        &chain(),
        &set,
        Namespace::Nullify,
        &payload,
        &[
            (ValidatorIndex(7), &votes[0].1),
            (ValidatorIndex(0), &votes[0].1),
            (ValidatorIndex(1), &votes[0].1),
        ],
    );
    assert_eq!(verdicts, [false, true, false]);
}

// ---------------------------------------------------------------------------------------------
// Helpers for the batch tests.

/// One signature to check: `signature` by `key` over exactly `message`.
#[derive(Clone, Debug)]
struct Case {
    key: PublicKey,
    message: Vec<u8>,
    signature: Signature,
}

/// ZIP-215 from the curve: S canonical, A and R decode (non-canonical encodings included), and
/// the cofactored equation with `k` over R and A as given.
fn zip215_accepts(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let s: [u8; 32] = signature[32..].try_into().expect("S");
    bool::from(Scalar::from_canonical_bytes(s).is_some()) && cofactored_accepts(public, message, signature)
}

/// A deterministic stream of pseudo-random numbers (SplitMix64), so a failure reproduces.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        out
    }
}

/// `count` honest signatures by distinct random keys over random messages.
fn honest_cases(count: usize, stream: u64) -> Vec<Case> {
    let mut random = SplitMix(stream);
    (0..count)
        .map(|_| {
            let key = SecretKey::from_seed(&random.bytes32());
            let length = (random.next() % 100) as usize;
            let message: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
            let signature = key.sign_raw(&message);
            Case { key: key.public_key(), message, signature }
        })
        .collect()
}

fn singles(cases: &[Case]) -> Vec<Result<(), KeyError>> {
    cases.iter().map(|case| case.key.verify_raw(&case.message, &case.signature)).collect()
}

fn batch(cases: &[Case]) -> Vec<Result<(), KeyError>> {
    let items: Vec<SignatureItem<'_>> = cases
        .iter()
        .map(|case| SignatureItem { key: &case.key, message: &case.message, signature: &case.signature })
        .collect();
    verify_batch(&items)
}

/// Requires `verify_batch` to give each case the verdict `verify_raw` gives it: all cases in
/// one batch, and each case at every position of a batch of seven honest signatures. Returns
/// the single verdicts.
fn assert_batch_equals_single(cases: &[Case]) -> Vec<Result<(), KeyError>> {
    let single = singles(cases);
    assert_eq!(batch(cases), single, "all {} cases in one batch", cases.len());
    let honest = honest_cases(7, 99);
    for (index, case) in cases.iter().enumerate() {
        for position in 0..=honest.len() {
            let mut mixed = honest.clone();
            mixed.insert(position, case.clone());
            let mut expected = vec![Ok(()); honest.len()];
            expected.insert(position, single[index].clone());
            assert_eq!(batch(&mixed), expected, "case {index} at position {position}");
        }
    }
    single
}
