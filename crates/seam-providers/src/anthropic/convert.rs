//! Anthropic Messages ⇄ OpenAI chat translation.
