//! Structured PII: a valid value generator and sentence templates (several locales, mostly with
//! the context words people write) per entity.

use super::rng::Rng;
use super::values::{
    aadhaar, bitcoin, card, date, de_tax_id, driver_license, email, fiscal_code, iban, ip, itin,
    mac, nhs, nif, nino, nric, pan, passport, phone, sin, ssn, tfn, url,
};
use super::{Disguise, Kind, Sample, fill};

/// Samples per entity.
const PER_ENTITY: usize = 60;

struct Spec {
    entity: &'static str,
    value: fn(&mut Rng) -> String,
    templates: &'static [&'static str],
}

const SPECS: &[Spec] = &[
    Spec {
        entity: "EMAIL_ADDRESS",
        value: email,
        templates: &[
            "Please send the invoice to §.",
            "Contact me at § if anything changes.",
            "Meine E-Mail-Adresse lautet §.",
            "Mon adresse e-mail est §, merci.",
            "Escríbeme a § cuando puedas.",
            "Reply-To: §",
            "cc § on the thread please",
            "Scrivimi a § per i dettagli.",
        ],
    },
    Spec {
        entity: "PHONE_NUMBER",
        value: phone,
        templates: &[
            "Call me on § tomorrow morning.",
            "My phone number is §.",
            "Ruf mich bitte unter § an.",
            "Vous pouvez me joindre au §.",
            "Mi teléfono es §.",
            "Tel: §",
            "You can WhatsApp me at §",
            "Il mio numero di telefono è §.",
        ],
    },
    Spec {
        entity: "CREDIT_CARD",
        value: card,
        templates: &[
            "My card number is § and it expires next year.",
            "Charge it to § please.",
            "Kartennummer: §",
            "Numéro de carte : §",
            "Número de tarjeta: §",
            "Use the card § for the booking.",
            "card=§",
            "Pay with § and send me the receipt.",
        ],
    },
    Spec {
        entity: "IBAN_CODE",
        value: iban,
        templates: &[
            "Please wire the money to IBAN §.",
            "IBAN: §",
            "Bankverbindung: §",
            "Mon IBAN est §",
            "Transfiera el importe a la cuenta §.",
            "Fai il bonifico sull'IBAN §",
            "Refund account § (SEPA)",
        ],
    },
    Spec {
        entity: "US_SSN",
        value: ssn,
        templates: &[
            "My SSN is §.",
            "Social Security Number: §",
            "SSN § on the W-2 looks wrong",
            "ssn=§",
            "Please verify social security number § for the applicant.",
        ],
    },
    Spec {
        entity: "IP_ADDRESS",
        value: ip,
        templates: &[
            "The server at § is not responding.",
            "Block all traffic from §.",
            "Client IP § hit the rate limit.",
            "Die IP-Adresse § ist gesperrt.",
            "ping § returns a timeout",
            "Allow § in the firewall rules.",
            "L'adresse IP § est bloquée.",
        ],
    },
    Spec {
        entity: "MAC_ADDRESS",
        value: mac,
        templates: &[
            "The device MAC is §.",
            "MAC address: §",
            "arp shows § on eth0",
            "Whitelist hardware address § on the guest network.",
            "Die MAC-Adresse lautet §.",
        ],
    },
    Spec {
        entity: "URL",
        value: url,
        templates: &[
            "See § for details.",
            "Download it from § and unzip it.",
            "Link: §",
            "Open § in your browser.",
            "Mehr Infos unter §.",
            "Voir § pour plus d'informations.",
        ],
    },
    Spec {
        entity: "CRYPTO",
        value: bitcoin,
        templates: &[
            "Send 0.05 BTC to §.",
            "My bitcoin wallet: §",
            "Donations welcome at §",
            "BTC address § (please double check)",
            "Envía los fondos a la dirección bitcoin §.",
        ],
    },
    Spec {
        entity: "DATE_OF_BIRTH",
        value: date,
        templates: &[
            "Date of birth: §",
            "DOB § per the intake form",
            "I was born on §.",
            "Patient born §, admitted today.",
            "Geburtsdatum: §",
            "Date de naissance : §",
            "Fecha de nacimiento: §",
            "Data di nascita: §",
        ],
    },
    Spec {
        entity: "US_PASSPORT",
        value: passport,
        templates: &[
            "My passport number is §.",
            "Passport No. §",
            "US passport § expires soon.",
            "passport#: §",
        ],
    },
    Spec {
        entity: "US_DRIVER_LICENSE",
        value: driver_license,
        templates: &[
            "Driver's license number: §",
            "DL § (California)",
            "My driver license is §.",
            "Driver licence no. §",
        ],
    },
    Spec {
        entity: "US_ITIN",
        value: itin,
        templates: &[
            "My ITIN is §.",
            "Individual Taxpayer Identification Number: §",
            "ITIN § for the W-7 form",
        ],
    },
    Spec {
        entity: "UK_NHS",
        value: nhs,
        templates: &[
            "NHS number: §",
            "My NHS number is §.",
            "Patient NHS No. § was referred.",
        ],
    },
    Spec {
        entity: "UK_NINO",
        value: nino,
        templates: &[
            "National Insurance number: §",
            "My NI number is §.",
            "NINO § on the payslip",
        ],
    },
    Spec {
        entity: "ES_NIF",
        value: nif,
        templates: &["Mi NIF es §.", "DNI: §", "NIE §", "NIF/CIF: §"],
    },
    Spec {
        entity: "IT_FISCAL_CODE",
        value: fiscal_code,
        templates: &[
            "Il mio codice fiscale è §.",
            "Codice fiscale: §",
            "CF § per la fattura",
        ],
    },
    Spec {
        entity: "DE_TAX_ID",
        value: de_tax_id,
        templates: &[
            "Steuer-ID: §",
            "Meine Steueridentifikationsnummer ist §.",
            "Steuerliche Identifikationsnummer §",
            "My German tax ID is §.",
        ],
    },
    Spec {
        entity: "IN_AADHAAR",
        value: aadhaar,
        templates: &[
            "My Aadhaar number is §.",
            "Aadhaar: §",
            "Aadhaar card § linked to my bank",
        ],
    },
    Spec {
        entity: "IN_PAN",
        value: pan,
        templates: &[
            "PAN: §",
            "My PAN card number is §.",
            "Permanent Account Number §",
        ],
    },
    Spec {
        entity: "AU_TFN",
        value: tfn,
        templates: &["My tax file number is §.", "TFN: §", "TFN § for payroll"],
    },
    Spec {
        entity: "SG_NRIC",
        value: nric,
        templates: &["NRIC: §", "My NRIC is §.", "FIN § (work pass holder)"],
    },
    Spec {
        entity: "CA_SIN",
        value: sin,
        templates: &[
            "My SIN is §.",
            "Social Insurance Number: §",
            "SIN § for the T4 slip",
        ],
    },
];

/// Templates holding several entities at once, as in a form or a signature.
const COMBOS: &[(&str, &[&str])] = &[
    (
        "Name: Jane Roe, email §, phone §",
        &["EMAIL_ADDRESS", "PHONE_NUMBER"],
    ),
    (
        "Refund to card § or IBAN §, whichever is faster.",
        &["CREDIT_CARD", "IBAN_CODE"],
    ),
    (
        "Applicant SSN §, date of birth §, passport §.",
        &["US_SSN", "DATE_OF_BIRTH", "US_PASSPORT"],
    ),
    (
        "Host § (MAC §) serves §",
        &["IP_ADDRESS", "MAC_ADDRESS", "URL"],
    ),
    (
        "Codice fiscale § — email §",
        &["IT_FISCAL_CODE", "EMAIL_ADDRESS"],
    ),
    ("NHS number §, NI number §", &["UK_NHS", "UK_NINO"]),
    ("PAN § and Aadhaar §", &["IN_PAN", "IN_AADHAAR"]),
];

pub(super) fn samples(rng: &mut Rng, out: &mut Vec<Sample>) {
    for spec in SPECS {
        for i in 0..PER_ENTITY {
            let template = spec.templates[i % spec.templates.len()];
            let v = (spec.value)(rng);
            let v = Disguise::for_index(i).apply(rng, &v);
            out.push(fill(Kind::Entity, template, &[(spec.entity, &v)]));
        }
    }
    for (i, (template, entities)) in COMBOS.iter().cycle().take(70).enumerate() {
        let values: Vec<(&'static str, String)> = entities
            .iter()
            .map(|e| {
                let v = value(rng, e);
                (*e, Disguise::for_index(i + 1).apply(rng, &v))
            })
            .collect();
        let refs: Vec<(&'static str, &str)> =
            values.iter().map(|(e, v)| (*e, v.as_str())).collect();
        out.push(fill(Kind::Entity, template, &refs));
    }
}

/// A valid value of `entity`, empty for an entity this module does not generate.
pub(super) fn value(rng: &mut Rng, entity: &str) -> String {
    SPECS
        .iter()
        .find(|s| s.entity == entity)
        .map_or_else(String::new, |s| (s.value)(rng))
}
