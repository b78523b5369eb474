//! The knowledge base's subject matter, written by hand: topics, the entities each covers, and
//! the issues its articles answer — each issue in the articles' own words and in the different
//! words a person asking about it would use. `{p}` stands for the entity's name.

/// One area of the knowledge base, owned by a team.
pub(super) struct Topic {
    /// The owning team (`team:<team>` label).
    pub team: &'static str,
    /// The section the articles sit in.
    pub section: &'static str,
    /// What the articles are about: a laptop model, a cost centre, an office…
    pub entities: &'static [&'static str],
    /// The prefix of the entities' codes (`HW-4821`).
    pub code_prefix: &'static str,
    /// Sentences any article of the topic may carry.
    pub general: &'static [&'static str],
    /// The issues the articles answer.
    pub issues: &'static [Issue],
}

/// One question the knowledge base answers, for any entity of its topic.
pub(super) struct Issue {
    /// The article title (the entity's name is appended).
    pub title: &'static str,
    /// What the reader sees (the article's "Symptoms").
    pub symptom: &'static str,
    /// The answer (the article's "Resolution"), in the articles' words.
    pub resolution: &'static str,
    /// How people ask about it, in other words.
    pub asked: &'static [&'static str],
}

pub(super) const TOPICS: &[Topic] = &[
    Topic {
        team: "it",
        section: "Devices",
        entities: &[
            "Kestrel 14 laptop",
            "Kestrel 16 laptop",
            "Osprey 13 laptop",
            "Osprey 15 laptop",
            "Wren tablet",
            "Wren Pro tablet",
            "Heron desktop",
            "Heron Mini desktop",
            "Falcon workstation",
            "Swift 13 ultrabook",
            "Swift 14 ultrabook",
            "Ibis convertible",
        ],
        code_prefix: "HW",
        general: &[
            "Company devices are managed centrally and receive updates every Tuesday evening.",
            "Contact the IT service desk if these steps do not solve the problem.",
            "Connect the device to the corporate network at least once a week so policies stay current.",
            "Hardware under warranty is replaced within five working days.",
            "Back up local files to the shared drive before any repair.",
        ],
        issues: &[
            Issue {
                title: "Battery drains quickly",
                symptom: "The {p} battery drains within a few hours of unplugging.",
                resolution: "Lower the screen brightness, disable background sync, and recalibrate the battery by charging it to 100 percent before use.",
                asked: &[
                    "{p} runs out of power fast, how do I make it last longer unplugged",
                    "why does my {p} go flat so soon away from the charger",
                ],
            },
            Issue {
                title: "Screen flickers",
                symptom: "The {p} display flickers or shows horizontal lines.",
                resolution: "Update the graphics driver and set the refresh rate to 60 Hz in display settings.",
                asked: &[
                    "{p} monitor keeps blinking and has stripes across it",
                    "picture on my {p} is unstable and glitchy",
                ],
            },
            Issue {
                title: "Device does not start",
                symptom: "The {p} does not boot and the power light stays off.",
                resolution: "Hold the power button for 30 seconds, then connect the original charger and try again.",
                asked: &[
                    "{p} is dead, nothing happens when I press the on switch",
                    "cannot turn on my {p}, it stays black",
                ],
            },
            Issue {
                title: "Fan noise and overheating",
                symptom: "The {p} fan runs loudly and the case gets hot.",
                resolution: "Clean the air vents with compressed air and keep the device on a hard, flat surface.",
                asked: &[
                    "my {p} gets very warm and noisy",
                    "the {p} is burning up and the cooler is roaring",
                ],
            },
        ],
    },
    Topic {
        team: "finance",
        section: "Expenses",
        entities: &[
            "Marketing cost centre",
            "Sales cost centre",
            "Research cost centre",
            "Legal cost centre",
            "Logistics cost centre",
            "Support cost centre",
            "Design cost centre",
            "Operations cost centre",
            "Procurement cost centre",
            "Training cost centre",
            "Quality cost centre",
            "Strategy cost centre",
        ],
        code_prefix: "CC",
        general: &[
            "Expense reports are submitted in the finance portal with scanned receipts.",
            "Claims older than ninety days are rejected by the finance team.",
            "Foreign currency amounts are converted at the rate of the transaction date.",
            "Questions about a claim go to the accounts payable mailbox.",
            "Managers approve claims of their direct reports every Friday.",
        ],
        issues: &[
            Issue {
                title: "Reimbursement timeline",
                symptom: "Expense claims booked to the {p} wait for reimbursement.",
                resolution: "Claims are reimbursed within 14 days after the manager approves the receipts.",
                asked: &[
                    "how long until I get my money back for costs on the {p}",
                    "when is the refund paid out for spending charged to the {p}",
                ],
            },
            Issue {
                title: "Missing receipt",
                symptom: "A receipt for a purchase booked to the {p} has been lost.",
                resolution: "File a missing receipt declaration and attach the card statement line.",
                asked: &[
                    "I misplaced the proof of purchase for something on the {p}, what now",
                    "no slip for an item paid from the {p}",
                ],
            },
            Issue {
                title: "Meal allowance",
                symptom: "Meal costs on business travel are charged to the {p}.",
                resolution: "Meal allowances are capped at 45 euros per day during business travel.",
                asked: &[
                    "what is the daily food budget on a work trip for the {p}",
                    "how much may I spend on dinner when travelling for the {p}",
                ],
            },
            Issue {
                title: "Mileage rate",
                symptom: "Private cars are used for business journeys of the {p}.",
                resolution: "Mileage is paid at 0.30 euros per kilometre driven.",
                asked: &[
                    "using my own vehicle for work on the {p}, what rate per km do I get",
                    "driving my personal automobile for {p} trips, how am I compensated",
                ],
            },
        ],
    },
    Topic {
        team: "security",
        section: "Accounts and access",
        entities: &[
            "Ledger portal",
            "Atlas CRM",
            "Beacon wiki",
            "Compass HR system",
            "Harbor file share",
            "Quarry data warehouse",
            "Summit ticketing tool",
            "Tide payroll system",
            "Vault password manager",
            "Relay chat",
            "Orbit analytics",
            "Forge build server",
        ],
        code_prefix: "SYS",
        general: &[
            "Never share your credentials, not even with the service desk.",
            "Single sign-on covers most internal applications.",
            "Access is reviewed by system owners every quarter.",
            "Suspicious sign-in notifications should be reported to the security team at once.",
            "Service accounts are managed by the platform team, not by individuals.",
        ],
        issues: &[
            Issue {
                title: "Reset a password",
                symptom: "You cannot remember the password for the {p}.",
                resolution: "Open the self-service page and confirm the one-time code sent to your registered phone.",
                asked: &[
                    "forgot my login secret for the {p}, how do I get back in",
                    "I am locked out of the {p} and cannot recall my passphrase",
                ],
            },
            Issue {
                title: "Two-factor authentication after a phone change",
                symptom: "After replacing your phone, two-factor authentication for the {p} fails.",
                resolution: "Re-enrol the authenticator with your recovery codes before the old phone is wiped.",
                asked: &[
                    "got a new mobile and the verification app for the {p} no longer works",
                    "switched handsets, the second sign-in step of the {p} is broken",
                ],
            },
            Issue {
                title: "Request access",
                symptom: "You need an account on the {p}.",
                resolution: "Request access through the access catalogue; your manager and the system owner approve it.",
                asked: &[
                    "how do I get permission to use the {p}",
                    "need rights to the {p} for my new role",
                ],
            },
            Issue {
                title: "Account locked",
                symptom: "The {p} locks an account after five failed sign-in attempts.",
                resolution: "The account unlocks automatically after 30 minutes, or the service desk unlocks it sooner.",
                asked: &[
                    "the {p} blocked me after I typed wrong credentials several times",
                    "too many bad login tries on the {p}, when can I retry",
                ],
            },
        ],
    },
    Topic {
        team: "people",
        section: "Leave and working time",
        entities: &[
            "Lisbon office",
            "Oslo office",
            "Austin office",
            "Nairobi office",
            "Osaka office",
            "Dublin office",
            "Lyon office",
            "Krakow office",
            "Toronto office",
            "Pune office",
            "Sydney office",
            "Recife office",
        ],
        code_prefix: "OFC",
        general: &[
            "Local law takes precedence where it is more generous than this policy.",
            "Record all absences in the HR system so payroll stays correct.",
            "Part-time staff receive the same entitlements pro rata.",
            "The people team answers questions about entitlements within two working days.",
            "Public holidays follow the calendar of the country of employment.",
        ],
        issues: &[
            Issue {
                title: "Annual leave entitlement",
                symptom: "Employees at the {p} plan their annual leave.",
                resolution: "Staff receive 25 days of annual leave; unused days expire on 31 March of the following year.",
                asked: &[
                    "how many vacation days do staff at the {p} get per year",
                    "holiday allowance at the {p} and when does it lapse",
                ],
            },
            Issue {
                title: "Sick leave",
                symptom: "An employee of the {p} is ill and cannot work.",
                resolution: "Notify your manager before 9:00 and submit a doctor's certificate after three days of absence.",
                asked: &[
                    "I am unwell and cannot come in at the {p}, who do I tell",
                    "calling in sick at the {p}, when is a medical note needed",
                ],
            },
            Issue {
                title: "Parental leave",
                symptom: "Parents at the {p} plan time off after a birth or adoption.",
                resolution: "Parents may take 16 weeks of paid parental leave within the first year.",
                asked: &[
                    "how much time off do new mothers and fathers get at the {p}",
                    "baby on the way, what paid time off does the {p} give",
                ],
            },
            Issue {
                title: "Remote work",
                symptom: "Staff at the {p} want to work away from the office.",
                resolution: "Remote work is allowed up to three days per week with the manager's agreement.",
                asked: &[
                    "can I work from home at the {p} and how often",
                    "rules for telecommuting at the {p}",
                ],
            },
        ],
    },
    Topic {
        team: "platform",
        section: "Developer API",
        entities: &[
            "Orders API",
            "Billing API",
            "Search API",
            "Inventory API",
            "Shipping API",
            "Catalog API",
            "Payments API",
            "Identity API",
            "Reports API",
            "Pricing API",
            "Reviews API",
            "Returns API",
        ],
        code_prefix: "API",
        general: &[
            "All endpoints are served over TLS and require an access token.",
            "The changelog lists breaking changes ninety days before they ship.",
            "Sandbox environments mirror production with synthetic data.",
            "Status updates are posted on the developer status page.",
            "Responses are JSON encoded in UTF-8.",
        ],
        issues: &[
            Issue {
                title: "Rate limits",
                symptom: "The {p} returns HTTP 429 when a client exceeds 100 requests per second.",
                resolution: "Retry with exponential backoff and respect the Retry-After header.",
                asked: &[
                    "the {p} keeps refusing my calls because I send too many",
                    "throttled by the {p}, how should I slow down",
                ],
            },
            Issue {
                title: "Expired access tokens",
                symptom: "Access tokens for the {p} expire after one hour.",
                resolution: "Refresh them with the client credentials grant before they expire.",
                asked: &[
                    "the {p} says my key is no longer valid after a while",
                    "credentials for the {p} stop working every 60 minutes",
                ],
            },
            Issue {
                title: "Pagination",
                symptom: "List endpoints of the {p} return 50 items per page.",
                resolution: "Follow the next_cursor field until it is empty to fetch the remaining results.",
                asked: &[
                    "how do I get all records from the {p}, I only see part of them",
                    "the {p} only gives me the first batch of entries",
                ],
            },
            Issue {
                title: "Webhook deliveries",
                symptom: "The {p} retries failed webhook deliveries five times over 24 hours.",
                resolution: "After the last retry the endpoint is disabled; fix it and re-enable it in the dashboard.",
                asked: &[
                    "my callback URL for the {p} stopped receiving events",
                    "notifications from the {p} are not arriving at my server anymore",
                ],
            },
        ],
    },
    Topic {
        team: "facilities",
        section: "Workplace",
        entities: &[
            "North building",
            "South building",
            "East building",
            "West building",
            "Harbour building",
            "Riverside building",
            "Central building",
            "Park building",
            "Station building",
            "Garden building",
            "Tower building",
            "Bridge building",
        ],
        code_prefix: "BLD",
        general: &[
            "Reception is staffed from 7:30 to 18:00 on working days.",
            "Fire exits are marked in green and must be kept clear.",
            "Lost property is kept at reception for thirty days.",
            "Cleaning takes place every evening after 19:00.",
            "Visitors must be accompanied by their host at all times.",
        ],
        issues: &[
            Issue {
                title: "Printer paper jam",
                symptom: "The printer in the {p} jams.",
                resolution: "Open tray 2, remove the stuck paper and restart the print queue from the control panel.",
                asked: &[
                    "sheets are stuck in the copier at the {p}",
                    "the copier in the {p} will not output my document, something is caught inside",
                ],
            },
            Issue {
                title: "Meeting room booking",
                symptom: "Meeting rooms in the {p} are booked through the calendar.",
                resolution: "Bookings that are not checked in within 15 minutes are released for others.",
                asked: &[
                    "how do I reserve a conference space in the {p}",
                    "my reserved room at the {p} was given away",
                ],
            },
            Issue {
                title: "Parking permits",
                symptom: "Parking at the {p} garage needs a permit.",
                resolution: "Reception issues permits; visitors register their licence plate on arrival.",
                asked: &[
                    "where can I leave my car at the {p}",
                    "a guest needs a spot for their vehicle at the {p}",
                ],
            },
            Issue {
                title: "Heating and air conditioning",
                symptom: "Heating or air conditioning in the {p} is faulty.",
                resolution: "Report the fault through the facilities ticket form with the room number.",
                asked: &[
                    "it is freezing in my office at the {p}, who fixes the temperature",
                    "the climate control in the {p} is broken and it is too hot",
                ],
            },
        ],
    },
];
