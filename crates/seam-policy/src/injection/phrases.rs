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
        r"\b(?:you\s+are\s+now|from\s+now\s+on,?\s+you\s+(?:are|will|must|shall)|ahora\s+eres|a\s+partir\s+de\s+ahora\s+eres|tu\s+es\s+maintenant|vous\s+êtes\s+maintenant|du\s+bist\s+(?:jetzt|nun|ab\s+sofort)|ora\s+sei|agora\s+você\s+é)(?:\b|\s|$)",
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
    // Role-marker spoofing: a turn the conversation never had, written into the text. `%LINE%` is
    // the start of a line (after indentation, a quote `>`, a bullet, bold `**`); `%INSTR%` is what
    // opens an instruction. Spans in pasted code are discounted in [`super::collect`].
    //
    // Template tokens and tags opening a system turn at the start of a line.
    (
        "fake_system_turn",
        r"%LINE%(?:<s>\s*)?(?:\[INST\]\s*)?(?:<\|im_start\|>\s*(?:system|developer)|<\|(?:system|developer)\|>|<<\s*SYS\s*>>|<\|start_header_id\|>\s*(?:system|developer)|<\s*(?:system|developer|sys|system[_-]?(?:prompt|message|instructions?))\s*>\s*[^\s<])",
    ),
    // `<system>…</system>` anywhere, with text (not child elements) inside.
    (
        "fake_system_turn",
        r"<\s*(?:system|developer|system[_-]?(?:prompt|message|instructions?))\s*>\s*[^\s<][^<]*<\s*/\s*(?:system|developer|system[_-]?(?:prompt|message|instructions?))\s*>",
    ),
    // `### System:`, `System:`, `[SYSTEM]`, `**Developer:**` starting a line, then an instruction
    // on the same or the next line; "System requirements:" and "System: Ubuntu 22.04" are not.
    (
        "fake_system_turn",
        r"%LINE%(?:#{1,6}[\t ]*)?(?:\[[\t ]*)?(?:system|sys|developer)(?:[\t _-]*(?:message|prompt|instructions?|override))?[\t ]*(?:\][\t ]*:?|\*\*[\t ]*:|:[\t ]*\*\*|:)\s*%INSTR%",
    ),
    // A Markdown heading alone on its line: "## Developer message", then the order.
    (
        "fake_system_turn",
        r"%LINE%#{1,6}[\t ]*(?:system|developer)(?:[\t _-]*(?:message|prompt|instructions?|override))?[\t ]*\r?\n\s*%INSTR%",
    ),
    // "SYSTEM OVERRIDE" heading a line; "=== BEGIN SYSTEM PROMPT ===", "--- SYSTEM --- You are…".
    (
        "fake_system_turn",
        r"%LINE%(?:[=#*\[-]+[\t ]*)?(?:system|admin|developer|root)[\t ]+override\b",
    ),
    (
        "fake_system_turn",
        r"(?:={2,}|-{2,}|\*{2,}|#{2,}|\[)[\t ]*(?:begin|start)[\t _-]*(?:of[\t _-]*)?(?:the[\t _-]*)?(?:new[\t _-]*)?(?:system|developer|admin)(?:[\t _-]*(?:prompt|message|instructions?|override|mode))?[\t ]*(?:={2,}|-{2,}|\*{2,}|#{2,}|\])",
    ),
    (
        "fake_system_turn",
        r"(?:={2,}|-{2,}|\*{2,})[\t ]*(?:system|developer)(?:[\t _-]*(?:prompt|message|instructions?|override))?[\t ]*(?:={2,}|-{2,}|\*{2,})\s*%INSTR%",
    ),
    // Upper case is a header wherever it stands: "Thanks. SYSTEM: you are now…".
    (
        "fake_system_turn",
        r"\b(?-i:SYSTEM|DEVELOPER)(?-i:[\t ]+(?:MESSAGE|PROMPT|INSTRUCTIONS?|OVERRIDE))?[\t ]*[:\]]\s*%INSTR%",
    ),
    // A chat-API role message in the text: {"role": "system", …}, {'role': 'developer', …}.
    (
        "json_system_role",
        r#"["']role["'][\t ]*:[\t ]*["'](?:system|developer)["']"#,
    ),
    // Turns of a conversation: weak alone (transcripts are pasted to be summarised), evidence
    // beside a fake assistant that complies or any other signal.
    (
        "user_turn",
        r"%LINE%(?:(?:\[|<\|?|\*\*)[\t ]*)?(?:user|human)[\t ]*(?:\]|\|?>|\*\*)?[\t ]*:",
    ),
    (
        "user_turn",
        r"%LINE%#{1,6}[\t ]*(?:user|human|instruction|input)[\t ]*(?::|\r?(?m:$))",
    ),
    (
        "assistant_turn",
        r"%LINE%(?:(?:\[|<\|?|\*\*)[\t ]*)?(?:assistant|ai|bot|chatbot|chatgpt|gpt|claude|gemini|llama|dan)[\t ]*(?:\]|\|?>|\*\*)?[\t ]*:",
    ),
    (
        "assistant_turn",
        r"%LINE%#{1,6}[\t ]*(?:assistant|response|ai|bot)[\t ]*(?::|\r?(?m:$))",
    ),
    // The fake assistant agrees to what the attack wants, or is left open for the model to go on.
    (
        "fake_compliance",
        r"%LINE%(?:assistant|ai|bot|chatbot|chatgpt|gpt|claude|dan)[\t ]*:[\t ]*(?:sure|certainly|of\s+course|absolutely|okay|ok|yes|understood|great|done|alright)\b[^\n]*?(?:no\s+(?:longer\s+)?(?:\w+\s+)?(?:restrictions|rules|filters|limits|guidelines|censorship)|unrestricted|unfiltered|uncensored|jailbr|\bdan\b|developer\s+mode|system\s+prompt|my\s+(?:instructions|rules|guidelines|programming)|ignor|disregard|pwned|without\s+(?:any\s+)?(?:restrictions|limits|filters|rules))",
    ),
    (
        "fake_compliance",
        r"%LINE%(?:assistant|ai|bot|chatgpt|dan)[\t ]*:[\t ]*(?:(?:sure|certainly|of\s+course|absolutely|okay)[,!.]?[\t ]+here(?:[\t ]+(?:is|are)|'s)\b(?:[^\n:]*:)?)?\s*\z",
    ),
    // A fake end of the user's part: "=== END OF USER INPUT ===", "---END USER---", "</user_input>".
    (
        "fake_boundary",
        r"(?:={2,}|-{2,}|\*{2,}|#{2,}|\[|<|\()[\t ]*/?[\t ]*end[\t _-]*(?:of[\t _-]*)?(?:the[\t _-]*)?(?:user|human|customer|untrusted)(?:'s)?[\t _-]*(?:input|message|prompt|query|turn|text|content|data|section|instructions?)?[\t ]*(?:={2,}|-{2,}|\*{2,}|#{2,}|\]|>|\))",
    ),
    (
        "fake_boundary",
        r"<[\t ]*/[\t ]*(?:user|human)[_-]?(?:input|message|query|prompt|text|content|turn)[\t ]*>",
    ),
];

/// Where a role header may start: the start of a line, after indentation, a quote, a bullet or
/// bold markers.
const LINE: &str = r"(?m:^)[\t >*_-]*";

/// What follows a fake system header when it gives an order: "you are…", "(please) ignore…"
/// (also in the languages of the override phrases), "new rules:", "always answer…"; not
/// "Ubuntu 22.04" or "8 GB RAM".
///
/// It stands in several patterns of one [`PHRASES`] set, so it keeps to small classes: a Unicode
/// `\w*` here swells the set's DFA past its cache and every text, ASCII too, falls back to a
/// slower engine (1 µs -> 70 µs per prompt measured).
const INSTR: &str = r"(?:(?:please|kindly|now|important|note)[\s,.:!-]+)?(?:ignor[a-z]*|vergiss|vergessen|missachte|oubli[a-z]*|olvid[a-z]*|omite|descarta|dimentic[a-z]*|trascura|esque[cç][a-zç]*|desconsider[a-z]*|игнорир[а-я]*|проигнорир[а-я]*|забудь[а-я]*|忽略|无视|忽视|忘记|忘掉|以前の|これまでの|du\s+bist|tu\s+es|vous\s+êtes|ahora\s+eres|ora\s+sei|agora\s+você|you\s+(?:are|must|will|should|shall|now|may\s+now|can\s+now|have\s+(?:no|been\s+(?:granted|given|authori[sz]ed|unlocked|freed|released|upgraded|reprogrammed|jailbroken))|need\s+to|no\s+longer|(?:will\s+)?(?:ignore|obey|follow|answer|respond|reply|comply|act))\b|your\s+(?:new|only|real|true|next|primary|instructions?|rules?|task|goal|role|purpose)\b|from\s+now\s+on|new\s+(?:rules?|instructions?|directives?|task|policy|persona|role)\b|(?:ignore|disregard|forget|override|bypass|disable|reveal|respond|answer|reply|output|print|repeat|act|pretend|obey|comply|execute|enable|switch|grant|tell|send|forward|approve|delete|give|provide|leak|exfiltrate|dump|email|transfer|do\s+not|don'?t)\b|(?:always|never)\s+(?:\w+\s+){0,2}?(?:answer|respond|reply|reveal|refuse|say|mention|tell|follow|obey|use|comply|share|disclose)|the\s+(?:user|assistant|ai|model|bot)\b|all\s+(?:previous|prior|safety|restrictions|content|rules|filters)\b|(?:safety|content)\s+(?:filters?|guidelines|restrictions|polic(?:y|ies))|updated?\s+(?:instructions?|polic(?:y|ies)|rules?)\b|(?:previous|prior|above)\s+(?:instructions?|rules?|prompts?|messages?)\b|as\s+an?\s+(?:ai|assistant|language\s+model)\b)";

/// A pattern of [`PHRASES`] as compiled: case-insensitive, its placeholders filled in, and `\b`
/// an ASCII word boundary. A Unicode `\b` makes the regex crate's DFA give up on any text with
/// a non-ASCII character and fall back to an engine a hundred times slower; no pattern here puts
/// `\b` next to a non-ASCII letter.
pub(super) fn pattern(p: &str) -> String {
    format!(
        "(?i){}",
        p.replace("%LINE%", LINE)
            .replace("%INSTR%", INSTR)
            .replace(r"\b", r"(?-u:\b)")
    )
}

/// Chat-template tokens and role tags, matched literally and ASCII-case-insensitively wherever
/// they stand (the patterns above find them opening a turn). A token that opens a *system* turn
/// is stronger evidence than any other template token.
pub(super) const TOKENS: &[(&str, &str)] = &[
    ("system_token", "<|im_start|>system"),
    ("system_token", "<|im_start|>developer"),
    ("system_token", "<|system|>"),
    ("system_token", "<|developer|>"),
    ("system_token", "<<SYS>>"),
    ("system_token", "<|start_header_id|>system"),
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
    ("role_token", "<system_prompt>"),
    ("role_token", "</system_prompt>"),
    ("role_token", "<assistant>"),
    ("role_token", "</assistant>"),
    ("role_token", "<instructions>"),
    ("role_token", "</instructions>"),
    ("role_token", "</user>"),
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
    "sys",
    "user",
    "human",
    "assistant",
    "role",
];
