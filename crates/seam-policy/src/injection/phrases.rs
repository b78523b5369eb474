//! What injection attempts say, as data: phrase patterns per signal kind (English first, then a
//! few other languages), and the chat-template tokens that fake a turn boundary.
//!
//! Patterns are deliberately specific: "ignore the instructions in the README" is benign, "ignore
//! all previous instructions" is not, so override phrasing needs a word that points back at the
//! prompt (previous, above, system…). Everything is matched case-insensitively on normalised text,
//! so fullwidth letters and zero-width splitting do not hide a phrase.

/// (signal kind, pattern). Kinds and their weights are listed in [`super::WEIGHTS`].
pub(super) const PHRASES: &[(&str, &str)] = &[
    // "ignore all previous instructions", "disregard the system prompt", "forget your prior rules".
    (
        "instruction_override",
        r"\b(?:ignore|disregard|forget|skip|override|overlook|bypass|neglect)\s+(?:(?:all|any|every|each|of|the|your|my|these|those|previous|prior)\s+){0,4}(?:previous|prior|above|preceding|earlier|former|original|initial|foregoing|system|safety|developer|hidden)\s+(?:\w+\s+)?(?:instructions?|prompts?|rules|directives?|guidelines|commands|constraints|guardrails|restrictions|programming|policies)\b",
    ),
    // "ignore the instructions above", "forget the rules you were given".
    (
        "instruction_override",
        r"\b(?:ignore|disregard|forget)\s+(?:(?:all|any|the|your)\s+)*(?:instructions?|rules|directives|guidelines|prompts?)\s+(?:above|before\b|given\s+(?:above|before|earlier|to you)|you(?:'ve|\s+have|\s+were)?\s+(?:been\s+)?(?:given|received|told)|so\s+far)",
    ),
    // "ignore everything above", "forget everything you were told".
    (
        "instruction_override",
        r"\b(?:ignore|disregard|forget)\s+(?:everything|all\s+of\s+that|anything)\s+(?:above|before|previously|prior|(?:that\s+)?(?:you(?:'ve|\s+have|\s+were)?\s+)(?:been\s+)?(?:told|said|instructed|given))",
    ),
    (
        "instruction_override",
        r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:(?:the|your|any|all)\s+)*(?:system|developer|initial|original|hidden)\s+(?:prompt|message)s?\b",
    ),
    (
        "instruction_override",
        r"\b(?:stop|quit|don'?t|do\s+not|no\s+longer)\s+(?:follow(?:ing)?|obey(?:ing)?)\s+(?:your|any|the\s+system'?s?|previous|prior|original|openai'?s?|anthropic'?s?)\s+(?:\w+\s+)?(?:instructions|rules|guidelines|programming|prompt|policies)\b",
    ),
    // Spanish, French, German, Italian, Portuguese, Russian, Chinese, Japanese.
    (
        "instruction_override",
        r"\b(?:ignora|ignore|olvida|olvide|omite|descarta)\s+(?:(?:todas|todos|todo|las|los|tus|sus)\s+){0,3}(?:instrucciones|reglas|indicaciones|órdenes)\s+(?:anteriores|previas|de\s+arriba|originales)",
    ),
    (
        "instruction_override",
        r"\b(?:ignora|olvida)\s+(?:todo\s+)?lo\s+anterior\b",
    ),
    (
        "instruction_override",
        r"\b(?:ignore[rz]?|oublie[rz]?|néglige[rz]?)\s+(?:(?:toutes|tous|les|tes|vos)\s+){0,3}(?:instructions|consignes|règles|directives)\s+(?:précédentes|antérieures|ci-dessus|initiales|d'origine)",
    ),
    (
        "instruction_override",
        r"\b(?:ignore[rz]?|oublie[rz]?)\s+tout\s+ce\s+qui\s+précède",
    ),
    (
        "instruction_override",
        r"\b(?:ignoriere|ignorieren\s+sie|vergiss|vergessen\s+sie|missachte)\s+(?:(?:alle|die|deine|ihre|sämtliche)\s+){0,3}(?:vorherigen|bisherigen|obigen|vorigen|früheren|ursprünglichen)\s+(?:anweisungen|instruktionen|befehle|regeln|vorgaben)",
    ),
    (
        "instruction_override",
        r"\b(?:ignora|dimentica|trascura)\s+(?:(?:tutte|tutti|le|gli|tue)\s+){0,3}(?:istruzioni|regole|indicazioni)\s+(?:precedenti|di\s+sopra|originali)",
    ),
    (
        "instruction_override",
        r"\b(?:ignore|ignora|esqueça|esquece|desconsidere)\s+(?:(?:todas|as|os|suas|tuas)\s+){0,3}(?:instruções|regras|orientações)\s+(?:anteriores|acima|originais)",
    ),
    (
        "instruction_override",
        r"(?:игнорируй(?:те)?|проигнорируй(?:те)?|забудь(?:те)?)\s+(?:все\s+)?(?:предыдущие|прошлые|прежние|вышеуказанные)\s+(?:инструкции|указания|правила)",
    ),
    (
        "instruction_override",
        r"(?:忽略|无视|忽视|忘记|忘掉)(?:之前|以上|上面|先前|前面|所有|全部)的?(?:所有|全部)?的?(?:指令|指示|说明|规则|提示)",
    ),
    (
        "instruction_override",
        r"(?:以前|前|上記|これまで)の(?:すべての)?(?:指示|命令|ルール)を(?:すべて)?(?:無視|忘れ)",
    ),
    // Probing for the hidden prompt.
    (
        "prompt_leak",
        r"\b(?:reveal|print|show|output|repeat|display|leak|dump|give\s+me|tell\s+me|what\s+(?:is|are|was|were))\s+(?:me\s+)?your\s+(?:(?:full|entire|complete|original|exact|hidden|secret)\s+)*(?:system\s+(?:prompt|message|instructions)|initial\s+(?:prompt|instructions)|hidden\s+(?:prompt|instructions)|developer\s+(?:message|prompt)|instructions\s+verbatim)",
    ),
    (
        "prompt_leak",
        r"\brepeat\s+(?:all\s+)?(?:the\s+)?(?:words|text)\s+above\b",
    ),
    // A new identity without the old rules.
    (
        "role_reassignment",
        r"\byou\s+are\s+now\s+(?:a\s+|an\s+|the\s+|in\s+)?(?:dan\b|stan\b|dude\b|unfiltered|uncensored|unrestricted|unbound|jailbroken|evil|free\s+(?:from|of)|not\s+bound|(?:developer|god|admin|dan|jailbreak|unrestricted)\s+mode|an?\s+ai\s+without)",
    ),
    (
        "role_reassignment",
        r"\byou\s+are\s+no\s+longer\s+(?:bound|restricted|limited|an?\s+ai|chatgpt|claude|an\s+assistant|required\s+to)",
    ),
    (
        "role_reassignment",
        r"\b(?:do\s+anything\s+now|dan\s+mode)\b",
    ),
    (
        "role_reassignment",
        r"\b(?:pretend|imagine)\s+(?:that\s+)?you\s+(?:are|have)\s+(?:no\s+(?:rules|restrictions|filters|guidelines)|an?\s+(?:unrestricted|unfiltered|uncensored|evil))",
    ),
    (
        "role_reassignment",
        r"\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil)\b",
    ),
    (
        "role_reassignment",
        r"(?:ahora\s+eres|tu\s+es\s+maintenant|vous\s+êtes\s+maintenant|du\s+bist\s+(?:jetzt|nun|ab\s+sofort)|ora\s+sei|agora\s+você\s+é)\s+(?:un[ae]?\s+|ein[e]?\s+)?(?:ia\s+|ki\s+)?(?:sin\s+(?:restricciones|filtros|censura)|sans\s+(?:restrictions|filtres|limites|censure)|ohne\s+(?:einschränkungen|filter|regeln)|senza\s+(?:restrizioni|filtri)|sem\s+(?:restrições|filtros)|dan\b|uneingeschränkt|libre)",
    ),
    // Weak on their own: plenty of benign text says these.
    (
        "persona",
        r"\b(?:you\s+are\s+now|from\s+now\s+on,?\s+you\s+(?:are|will|must|shall)|ahora\s+eres|a\s+partir\s+de\s+ahora\s+eres|tu\s+es\s+maintenant|vous\s+êtes\s+maintenant|du\s+bist\s+(?:jetzt|nun|ab\s+sofort)|ora\s+sei|agora\s+você\s+é)\b",
    ),
    (
        "new_instructions",
        r"\b(?:new|updated|revised|real|actual|true|override|secret|hidden|nuevas|nouvelles|neue|nuove|novas)\s+(?:system\s+)?(?:instructions?|instrucciones|anweisungen|istruzioni|instruções)\s*:",
    ),
    (
        "new_instructions",
        r"\b(?:system|admin|developer|root)\s+override\b",
    ),
    (
        "restriction_removal",
        r"\b(?:without|ignore|ignoring|bypass|bypassing|disable|disabling|remove|no)\s+(?:(?:any|all|your|the)\s+)*(?:ethical|moral|safety|content|openai|anthropic)\s+(?:guidelines|restrictions|filters|policies|constraints|rules|guardrails)\b",
    ),
    (
        "mode_switch",
        r"\b(?:developer|dev|god|admin|sudo|unrestricted|jailbreak)\s+mode\b",
    ),
    (
        "jailbreak",
        r"\bjail\s?(?:break|broke|broken)(?:s|ing|ed|en)?\b",
    ),
];

/// Chat-template tokens and role headers, matched literally and ASCII-case-insensitively. A
/// token that opens a *system* turn is stronger evidence than any other template token.
pub(super) const TOKENS: &[(&str, &str)] = &[
    ("fake_system_turn", "<|im_start|>system"),
    ("fake_system_turn", "<|system|>"),
    ("fake_system_turn", "<<SYS>>"),
    ("fake_system_turn", "### System:"),
    ("fake_system_turn", "<|start_header_id|>system"),
    ("role_token", "<|im_start|>"),
    ("role_token", "<|im_end|>"),
    ("role_token", "<|endoftext|>"),
    ("role_token", "<|eot_id|>"),
    ("role_token", "<|start_header_id|>"),
    ("role_token", "<|begin_of_text|>"),
    ("role_token", "<|user|>"),
    ("role_token", "<|assistant|>"),
    ("role_token", "[INST]"),
    ("role_token", "[/INST]"),
    ("role_token", "<</SYS>>"),
    ("role_token", "<system>"),
    ("role_token", "</system>"),
    ("role_token", "### Instruction:"),
];

/// Words at least one of which every Latin-script phrase above contains (stems, so `ignor` covers
/// ignore, ignora, ignorez, ignoriere). The ROT13 pass runs only when one of them appears rotated.
pub(super) const ROT13_WORDS: &[&str] = &[
    "ignor",
    "disregard",
    "forget",
    "skip",
    "overrid",
    "overlook",
    "bypass",
    "neglect",
    "follow",
    "obey",
    "olvid",
    "omite",
    "descarta",
    "oubli",
    "vergiss",
    "missacht",
    "dimentic",
    "trascur",
    "esque",
    "desconsider",
    "reveal",
    "print",
    "repeat",
    "you are",
    "anything now",
    "dan mode",
    "pretend",
    "imagine",
    "act as",
    "eres",
    "maintenant",
    "du bist",
    "ora sei",
    "agora",
    "now on",
    "instruc",
    "anweisung",
    "istruzion",
    "override",
    "guideline",
    "restriction",
    "filter",
    "polic",
    "rules",
    "mode",
    "jail",
];
