//! Placement: which targets may see a request's data, by trust tier and region.
//!
//! An alias declares one (`[models.NAME] placement`); a key (`[keys.NAME] placement`, `seam keys
//! create --placement`, `POST /admin/keys`) and a request (the `x-seam-placement` header) can
//! each narrow it, all in one text form read by [`Placement::parse`]:
//! `trust=private;region=eu,ch` — `;` between dimensions, `,` between the values a dimension
//! allows. Constraints combine by [`Placement::narrow`] (intersection), so a later one can never
//! widen an earlier one. The text form lives here, beside [`Trust`], so the config, the key store
//! and the server share one parser.

use std::fmt;

use crate::Trust;

/// The longest placement text accepted: a header or key field, never a document.
pub const MAX_TEXT_LEN: usize = 512;

/// Which targets may see a request's data. `None`: no constraint on that dimension; an empty
/// list: nothing satisfies it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub trust: Option<Vec<Trust>>,
    pub regions: Option<Vec<String>>,
}

/// Why a placement text was refused, fit to show the client that sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementError(String);

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlacementError {}

impl Trust {
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Vendor => "vendor",
            Trust::Private => "private",
        }
    }

    pub fn parse(s: &str) -> Option<Trust> {
        match s {
            "vendor" => Some(Trust::Vendor),
            "private" => Some(Trust::Private),
            _ => None,
        }
    }
}

/// A value as quoted back in an error: client text, so cut short.
fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

impl Placement {
    /// Reads `trust=private;region=eu,ch` into canonical order (values sorted, repeats dropped),
    /// so placements that print alike compare equal. Spaces around parts are ignored; an unknown or
    /// repeated dimension, an unknown trust tier, an empty value or list, and anything longer than
    /// [`MAX_TEXT_LEN`] are errors. Regions are labels as providers declare them, matched exactly:
    /// visible ASCII without `;`, `,` or `=`.
    pub fn parse(text: &str) -> Result<Placement, PlacementError> {
        let bad = |m: String| Err(PlacementError(m));
        if text.len() > MAX_TEXT_LEN {
            return bad(format!("is longer than {MAX_TEXT_LEN} characters"));
        }
        if text.trim().is_empty() {
            return bad("is empty: give trust=vendor|private and/or region=LABEL,…".into());
        }
        let mut p = Placement::default();
        for part in text.split(';') {
            let part = part.trim();
            if part.is_empty() {
                return bad("has an empty part (a stray `;`)".into());
            }
            let Some((dim, values)) = part.split_once('=') else {
                return bad(format!(
                    "`{}` is not DIMENSION=VALUE,… (e.g. trust=private;region=eu)",
                    shown(part)
                ));
            };
            let dim = dim.trim();
            let values: Vec<&str> = values.split(',').map(str::trim).collect();
            if values.iter().any(|v| v.is_empty()) {
                return bad(format!("`{}` has an empty value", shown(dim)));
            }
            match dim {
                "trust" => {
                    if p.trust.is_some() {
                        return bad("`trust` is given twice".into());
                    }
                    let mut tiers = Vec::with_capacity(values.len());
                    for v in values {
                        let Some(t) = Trust::parse(v) else {
                            return bad(format!(
                                "unknown trust `{}`; expected vendor or private",
                                shown(v)
                            ));
                        };
                        tiers.push(t);
                    }
                    tiers.sort_unstable_by_key(|t| t.as_str());
                    tiers.dedup();
                    p.trust = Some(tiers);
                }
                "region" => {
                    if p.regions.is_some() {
                        return bad("`region` is given twice".into());
                    }
                    let mut regions: Vec<String> = Vec::with_capacity(values.len());
                    for v in values {
                        if !v.bytes().all(|b| b.is_ascii_graphic() && b != b'=') {
                            return bad(format!(
                                "region `{}` must be visible ASCII without `;`, `,` or `=`",
                                shown(v)
                            ));
                        }
                        regions.push(v.to_owned());
                    }
                    regions.sort_unstable();
                    regions.dedup();
                    p.regions = Some(regions);
                }
                other => {
                    return bad(format!(
                        "unknown dimension `{}`; expected trust or region",
                        shown(other)
                    ));
                }
            }
        }
        Ok(p)
    }

    /// Whether a target of this trust tier and region may see the data.
    pub fn allows(&self, trust: Trust, region: Option<&str>) -> bool {
        let trust_ok = self
            .trust
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&trust));
        let region_ok = self
            .regions
            .as_ref()
            .is_none_or(|allowed| region.is_some_and(|r| allowed.iter().any(|a| a == r)));
        trust_ok && region_ok
    }

    pub fn is_unconstrained(&self) -> bool {
        self.trust.is_none() && self.regions.is_none()
    }

    /// What both allow: each dimension is the intersection of the two (an unconstrained side
    /// takes the other's), so the result is never wider than either.
    pub fn narrow(&self, other: &Placement) -> Placement {
        fn both<T: Clone + PartialEq>(a: Option<&Vec<T>>, b: Option<&Vec<T>>) -> Option<Vec<T>> {
            match (a, b) {
                (None, None) => None,
                (Some(x), None) | (None, Some(x)) => Some(x.clone()),
                (Some(a), Some(b)) => Some(a.iter().filter(|v| b.contains(v)).cloned().collect()),
            }
        }
        Placement {
            trust: both(self.trust.as_ref(), other.trust.as_ref()),
            regions: both(self.regions.as_ref(), other.regions.as_ref()),
        }
    }
}

/// The canonical text: dimensions in a fixed order, values sorted and unique, so equal
/// placements print alike (the cache keys on it). Unconstrained prints as the empty string; a
/// dimension nothing satisfies prints with no value (`region=`).
impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(trust) = &self.trust {
            let mut names: Vec<&str> = trust.iter().map(|t| t.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            write!(f, "trust={}", names.join(","))?;
            sep = ";";
        }
        if let Some(regions) = &self.regions {
            let mut names: Vec<&str> = regions.iter().map(String::as_str).collect();
            names.sort_unstable();
            names.dedup();
            write!(f, "{sep}region={}", names.join(","))?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Placement {
    type Err = PlacementError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Placement::parse(s)
    }
}

/// Stored (in a key's scope) and shown (by the admin API) as its text.
impl serde::Serialize for Placement {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Placement {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Placement::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    fn p(trust: Option<&[Trust]>, regions: Option<&[&str]>) -> Placement {
        Placement {
            trust: trust.map(<[Trust]>::to_vec),
            regions: regions.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn valid_forms_parse_and_print_canonically() {
        use Trust::{Private, Vendor};
        for (text, want, canonical) in [
            ("trust=private", p(Some(&[Private]), None), "trust=private"),
            ("region=eu", p(None, Some(&["eu"])), "region=eu"),
            (
                "trust=private;region=eu,ch",
                p(Some(&[Private]), Some(&["ch", "eu"])),
                "trust=private;region=ch,eu",
            ),
            (
                " region = eu-west-1 , us ; trust = vendor , private ",
                p(Some(&[Private, Vendor]), Some(&["eu-west-1", "us"])),
                "trust=private,vendor;region=eu-west-1,us",
            ),
            (
                "trust=private,private;region=eu,eu",
                p(Some(&[Private]), Some(&["eu"])),
                "trust=private;region=eu",
            ),
        ] {
            let got = Placement::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), canonical, "{text}");
            assert_eq!(Placement::parse(canonical).unwrap().to_string(), canonical);
        }
    }

    #[test]
    fn each_invalid_form_is_refused_with_a_reason() {
        let long = format!("region={}", "a".repeat(MAX_TEXT_LEN));
        for (text, says) in [
            ("", "is empty"),
            ("  ", "is empty"),
            ("private", "is not DIMENSION=VALUE"),
            ("trust=private;", "an empty part"),
            (";region=eu", "an empty part"),
            ("zone=eu", "unknown dimension `zone`"),
            ("regions=eu", "unknown dimension `regions`"),
            ("Trust=private", "unknown dimension `Trust`"),
            ("trust=public", "unknown trust `public`"),
            ("trust=", "`trust` has an empty value"),
            ("region=eu,,ch", "`region` has an empty value"),
            ("region=eu,", "`region` has an empty value"),
            ("trust=private;trust=vendor", "`trust` is given twice"),
            ("region=eu;region=us", "`region` is given twice"),
            ("region=eu=1", "must be visible ASCII"),
            ("region=eu west", "must be visible ASCII"),
            ("region=zürich", "must be visible ASCII"),
            (long.as_str(), "is longer than 512"),
        ] {
            let e = Placement::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn narrowing_is_an_intersection_that_never_widens() {
        use Trust::{Private, Vendor};
        let any = Placement::default();
        let private = p(Some(&[Private]), None);
        let vendor = p(Some(&[Vendor]), None);
        let eu_ch = p(None, Some(&["eu", "ch"]));
        assert_eq!(any.narrow(&private), private);
        assert_eq!(private.narrow(&any), private);
        assert_eq!(private.narrow(&vendor), p(Some(&[]), None));
        assert_eq!(
            eu_ch.narrow(&p(Some(&[Private]), Some(&["ch", "us"]))),
            p(Some(&[Private]), Some(&["ch"]))
        );
        let none_left = private.narrow(&vendor);
        assert!(!none_left.allows(Private, None) && !none_left.allows(Vendor, None));
        assert_eq!(none_left.to_string(), "trust=");
        assert!(eu_ch.allows(Vendor, Some("ch")));
        assert!(!eu_ch.allows(Vendor, Some("us")) && !eu_ch.allows(Vendor, None));
    }

    #[test]
    fn serde_uses_the_text_form() {
        let v = Placement::parse("region=eu;trust=private").unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#""trust=private;region=eu""#);
        assert_eq!(serde_json::from_str::<Placement>(&json).unwrap(), v);
        assert!(serde_json::from_str::<Placement>(r#""trust=nope""#).is_err());
    }

    proptest! {
        /// Any input — header bytes a client chose — is parsed or refused, never a panic; what
        /// parses prints to a text that parses to the same placement.
        #[test]
        fn parse_never_panics_and_round_trips(text in "\\PC{0,80}|[a-z=;, ]{0,40}") {
            if let Ok(p) = Placement::parse(&text) {
                let again = Placement::parse(&p.to_string()).unwrap();
                prop_assert_eq!(again.to_string(), p.to_string());
            }
        }
    }
}
