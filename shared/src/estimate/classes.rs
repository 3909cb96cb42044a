//! The one pre-tokenizer: text -> counts per character class.
//!
//! Every BPE/unigram tokenizer we calibrate against splits text first into words, numbers,
//! punctuation and whitespace, then spends a roughly class-dependent number of tokens per piece.
//! Counting those pieces (a single pass, no allocation) and weighting them with per-family
//! coefficients fitted offline is what the estimator does. The calibration script gets its class
//! counts from this code (through `tests/estimate_classes.rs`), so Rust and the fit can't drift.
//!
//! Every count only grows when text is appended, which (with non-negative coefficients) makes the
//! estimate monotone.

/// Number of classes; the length of every coefficient row.
pub const N_CLASSES: usize = 18;

/// Class names, in coefficient order. `calibrate.py` checks its rows against this list.
pub const CLASS_NAMES: [&str; N_CLASSES] = [
    "word",
    "letter",
    "upper",
    "long_extra",
    "number",
    "digit",
    "punct",
    "punct_run",
    "newline",
    "space_run",
    "space_char",
    "accented",
    "cyrillic",
    "alpha_2b",
    "alpha_3b",
    "han_kana",
    "hangul",
    "other_bytes",
];

const WORD: usize = 0;
const LETTER: usize = 1;
const UPPER: usize = 2;
const LONG_EXTRA: usize = 3;
const NUMBER: usize = 4;
const DIGIT: usize = 5;
const PUNCT: usize = 6;
const PUNCT_RUN: usize = 7;
const NEWLINE: usize = 8;
const SPACE_RUN: usize = 9;
const SPACE_CHAR: usize = 10;
const ACCENTED: usize = 11;
const CYRILLIC: usize = 12;
const ALPHA_2B: usize = 13;
const ALPHA_3B: usize = 14;
const HAN_KANA: usize = 15;
const HANGUL: usize = 16;
const OTHER_BYTES: usize = 17;

/// Letters of a word beyond this many are counted in `long_extra`: common words are one token
/// whatever their length, long and rare ones (compounds, identifiers, other languages) split.
const LONG_WORD: u64 = 8;

/// Counts per class for some text. `u64` so no input can overflow a count.
///
/// - `word`: runs of letters (any script but CJK), split where a lowercase ASCII letter is followed
///   by an uppercase one (`camelCase` is two words, as most vocabularies split it).
/// - `letter` / `upper`: ASCII letters / ASCII uppercase letters.
/// - `long_extra`: letters of a word beyond the 8th (any script but CJK).
/// - `number` / `digit`: runs of ASCII digits / digits.
/// - `punct` / `punct_run`: other ASCII characters (punctuation, symbols, controls) / their runs.
/// - `newline`: `\n`.
/// - `space_run` / `space_char`: runs of other whitespace that are not a single plain space (a
///   single space is absorbed by the next word in every tokenizer) / the characters in them.
/// - `accented`: Latin letters outside ASCII (é, ß, ł, ...).
/// - `cyrillic`: Cyrillic letters (well covered by most vocabularies).
/// - `alpha_2b`: letters of the other two-byte scripts (Greek, Armenian, Hebrew, Arabic, ...).
/// - `alpha_3b`: letters of scripts from U+0800 on (Devanagari, Thai, Georgian, ...), which
///   vocabularies cover unevenly.
/// - `han_kana`: Han ideographs and kana. `hangul`: Hangul (covered much worse than Han by some
///   vocabularies).
/// - `other_bytes`: UTF-8 bytes of every other non-ASCII character (emoji, symbols, CJK
///   punctuation, joiners): these usually fall back to byte tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts(pub [u64; N_CLASSES]);

impl ClassCounts {
    /// Adds another text's counts (used to sum the text parts of a request).
    pub fn add(&mut self, other: &ClassCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// Whether no text was counted.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&c| c == 0)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    None,
    Word,
    Number,
    Punct,
    Space,
    Other,
}

/// Scanner state: the run in progress and what the previous letter was.
struct Scanner {
    counts: [u64; N_CLASSES],
    run: Run,
    prev_lower: bool,
    word_len: u64,
    space_len: u64,
    space_plain: bool,
}

impl Scanner {
    fn new() -> Self {
        Scanner {
            counts: [0; N_CLASSES],
            run: Run::None,
            prev_lower: false,
            word_len: 0,
            space_len: 0,
            space_plain: true,
        }
    }

    #[inline]
    fn bump(&mut self, class: usize, by: u64) {
        self.counts[class] = self.counts[class].saturating_add(by);
    }

    /// Closes a whitespace run: only runs other than a lone plain space are counted.
    #[inline]
    fn close_space(&mut self) {
        if self.run == Run::Space && !(self.space_len == 1 && self.space_plain) {
            self.bump(SPACE_RUN, 1);
            self.bump(SPACE_CHAR, self.space_len);
        }
        self.space_len = 0;
        self.space_plain = true;
    }

    #[inline]
    fn enter(&mut self, run: Run) {
        if self.run != run {
            self.close_space();
            self.run = run;
            if run != Run::Word {
                self.prev_lower = false;
            }
        }
    }

    #[inline]
    fn letter(&mut self, starts_word: bool) {
        if self.run != Run::Word || starts_word {
            self.enter(Run::Word);
            self.bump(WORD, 1);
            self.word_len = 0;
        }
        self.word_len += 1;
        if self.word_len > LONG_WORD {
            self.bump(LONG_EXTRA, 1);
        }
    }

    fn push(&mut self, c: char) {
        if c.is_ascii() {
            // `c` is ASCII, so the cast is lossless.
            let b = c as u8;
            match b {
                b'a'..=b'z' => {
                    self.letter(false);
                    self.bump(LETTER, 1);
                    self.prev_lower = true;
                }
                b'A'..=b'Z' => {
                    let hump = self.run == Run::Word && self.prev_lower;
                    self.letter(hump);
                    self.bump(LETTER, 1);
                    self.bump(UPPER, 1);
                    self.prev_lower = false;
                }
                b'0'..=b'9' => {
                    if self.run != Run::Number {
                        self.enter(Run::Number);
                        self.bump(NUMBER, 1);
                    }
                    self.bump(DIGIT, 1);
                }
                b'\n' => {
                    self.enter(Run::Other);
                    self.bump(NEWLINE, 1);
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                    self.enter(Run::Space);
                    self.space_len += 1;
                    if b != b' ' {
                        self.space_plain = false;
                    }
                }
                _ => {
                    if self.run != Run::Punct {
                        self.enter(Run::Punct);
                        self.bump(PUNCT_RUN, 1);
                    }
                    self.bump(PUNCT, 1);
                }
            }
            return;
        }
        if let Some(class) = cjk_class(c) {
            self.enter(Run::Other);
            self.bump(class, 1);
        } else if c.is_alphabetic() {
            self.letter(false);
            self.prev_lower = false;
            let class = if is_latin(c) {
                ACCENTED
            } else if matches!(c as u32, 0x0400..=0x052F) {
                CYRILLIC
            } else if c.len_utf8() == 2 {
                ALPHA_2B
            } else {
                ALPHA_3B
            };
            self.bump(class, 1);
        } else if c.is_whitespace() {
            self.enter(Run::Space);
            self.space_len += 1;
            self.space_plain = false;
        } else {
            self.enter(Run::Other);
            self.bump(OTHER_BYTES, c.len_utf8() as u64);
        }
    }

    fn finish(mut self) -> ClassCounts {
        self.close_space();
        ClassCounts(self.counts)
    }
}

/// Latin letters outside ASCII: Latin-1 Supplement, Latin Extended-A/B, IPA, Latin Extended
/// Additional (Vietnamese), and the fullwidth/other Latin blocks are left to `alpha_other`.
#[inline]
fn is_latin(c: char) -> bool {
    matches!(c as u32, 0x00C0..=0x024F | 0x0250..=0x02AF | 0x1E00..=0x1EFF)
}

/// Han ideographs and kana (`han_kana`) or Hangul (`hangul`): about a token or more per
/// character, and not split into words by spaces.
#[inline]
fn cjk_class(c: char) -> Option<usize> {
    match c as u32 {
        0x3040..=0x30FF         // Hiragana, Katakana
        | 0x31F0..=0x31FF       // Katakana phonetic extensions
        | 0x3400..=0x4DBF       // CJK Extension A
        | 0x4E00..=0x9FFF       // CJK Unified Ideographs
        | 0xF900..=0xFAFF       // CJK Compatibility Ideographs
        | 0xFF66..=0xFF9F       // Halfwidth katakana
        | 0x20000..=0x3FFFF => Some(HAN_KANA), // CJK Extensions B..
        0x1100..=0x11FF         // Hangul Jamo
        | 0x3130..=0x318F       // Hangul compatibility Jamo
        | 0xAC00..=0xD7AF => Some(HANGUL), // Hangul syllables
        _ => None,
    }
}

/// Counts `text` by class in one pass, without allocating.
pub fn count_classes(text: &str) -> ClassCounts {
    let mut s = Scanner::new();
    for c in text.chars() {
        s.push(c);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(counts: &ClassCounts, name: &str) -> u64 {
        let i = CLASS_NAMES
            .iter()
            .position(|n| *n == name)
            .expect("class name");
        counts.0[i]
    }

    #[test]
    fn empty_text_counts_nothing() {
        assert!(count_classes("").is_empty());
    }

    #[test]
    fn words_numbers_punct_and_spaces() {
        let c = count_classes("Hello, world! 2025-04-17  getUserName\n\tx");
        assert_eq!(get(&c, "word"), 6); // Hello world get User Name x
        assert_eq!(get(&c, "letter"), 22);
        assert_eq!(get(&c, "upper"), 3);
        assert_eq!(get(&c, "number"), 3);
        assert_eq!(get(&c, "digit"), 8);
        assert_eq!(get(&c, "punct"), 4); // , ! - -
        assert_eq!(get(&c, "punct_run"), 4);
        assert_eq!(get(&c, "newline"), 1);
        // "  " before getUserName and "\t" after the newline; single spaces don't count.
        assert_eq!(get(&c, "space_run"), 2);
        assert_eq!(get(&c, "space_char"), 3);
    }

    #[test]
    fn scripts_are_separated() {
        let c = count_classes("Köln Привет 你好 안녕 नमस 🎉 Donaudampfschiff Αθήνα");
        assert_eq!(get(&c, "word"), 5);
        assert_eq!(get(&c, "accented"), 1);
        assert_eq!(get(&c, "cyrillic"), 6);
        assert_eq!(get(&c, "alpha_2b"), 5);
        assert_eq!(get(&c, "alpha_3b"), 3);
        assert_eq!(get(&c, "han_kana"), 2);
        assert_eq!(get(&c, "hangul"), 2);
        assert_eq!(get(&c, "other_bytes"), 4);
        assert_eq!(get(&c, "long_extra"), 8); // Donaudampfschiff: 16 letters
    }

    #[test]
    fn all_caps_is_one_word() {
        let c = count_classes("HTTPServer");
        assert_eq!(get(&c, "word"), 1);
        assert_eq!(get(&c, "upper"), 5);
    }
}
