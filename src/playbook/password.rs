//! The password policy and the generator.
//!
//! A password is drawn from the OS random source (`getrandom`), one character at a time
//! uniformly from the policy's whole alphabet, and drawn again until it meets every minimum.
//! This rejection sampling is uniform over exactly the passwords the policy allows, so the
//! entropy is `log2` of how many there are, which [`PasswordPolicy::entropy_bits`] computes.
//! No character's position is predictable, so no shuffle is needed.

use crate::secret::Secret;
use rand::TryRngCore;

/// Characters easily misread on paper, left out when `exclude_ambiguous` is set.
pub const AMBIGUOUS: &str = "0O1lI|";
/// The least entropy a policy may give.
pub const MIN_ENTROPY_BITS: f64 = 80.0;
/// The longest password.
pub const MAX_LENGTH: usize = 128;
/// A policy that only one random password in more than this many meets is refused (the
/// generator would draw that many on average).
pub const MAX_DRAWS: f64 = 10_000.0;

/// How the new account's password is generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Number of characters.
    pub length: usize,
    /// At least this many upper-case letters.
    pub min_upper: usize,
    /// At least this many lower-case letters.
    pub min_lower: usize,
    /// At least this many digits.
    pub min_digit: usize,
    /// At least this many symbols.
    pub min_symbol: usize,
    /// The allowed symbols (ASCII punctuation).
    pub symbols: String,
    /// Leave out [`AMBIGUOUS`] characters.
    pub exclude_ambiguous: bool,
}

/// The generator could not read the OS random source.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// Which field of the policy a problem is about, for pointing at it in the playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyField {
    /// `length`
    Length,
    /// `min_upper`
    MinUpper,
    /// `min_lower`
    MinLower,
    /// `min_digit`
    MinDigit,
    /// `min_symbol`
    MinSymbol,
    /// `symbols`
    Symbols,
}

impl PolicyField {
    /// The YAML key.
    pub fn key(self) -> &'static str {
        match self {
            PolicyField::Length => "length",
            PolicyField::MinUpper => "min_upper",
            PolicyField::MinLower => "min_lower",
            PolicyField::MinDigit => "min_digit",
            PolicyField::MinSymbol => "min_symbol",
            PolicyField::Symbols => "symbols",
        }
    }
}

/// A policy that cannot be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyProblem {
    /// The field to point at.
    pub field: PolicyField,
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub help: String,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            length: 16,
            min_upper: 1,
            min_lower: 1,
            min_digit: 1,
            min_symbol: 1,
            symbols: super::raw::DEFAULT_SYMBOLS.to_string(),
            exclude_ambiguous: true,
        }
    }
}

/// A character class: its characters and the minimum count.
struct Class {
    chars: Vec<u8>,
    min: usize,
    field: PolicyField,
    name: &'static str,
}

impl PasswordPolicy {
    fn classes(&self) -> [Class; 4] {
        let keep = |c: &u8| !(self.exclude_ambiguous && AMBIGUOUS.as_bytes().contains(c));
        let mut symbols: Vec<u8> = self.symbols.bytes().filter(keep).collect();
        symbols.sort_unstable();
        symbols.dedup();
        [
            Class {
                chars: (b'A'..=b'Z').filter(keep).collect(),
                min: self.min_upper,
                field: PolicyField::MinUpper,
                name: "upper-case letters",
            },
            Class {
                chars: (b'a'..=b'z').filter(keep).collect(),
                min: self.min_lower,
                field: PolicyField::MinLower,
                name: "lower-case letters",
            },
            Class {
                chars: (b'0'..=b'9').filter(keep).collect(),
                min: self.min_digit,
                field: PolicyField::MinDigit,
                name: "digits",
            },
            Class {
                chars: symbols,
                min: self.min_symbol,
                field: PolicyField::MinSymbol,
                name: "symbols",
            },
        ]
    }

    fn alphabet(&self) -> Vec<u8> {
        self.classes().into_iter().flat_map(|c| c.chars).collect()
    }

    /// The probability that a password drawn uniformly from the alphabet meets every minimum.
    ///
    /// Sums, over every count of each class, the multinomial ways times each class's share to
    /// that power, built up one class at a time (`R[k] = Σ C(k,j) P[j] Q[k-j]`).
    fn acceptance(&self) -> f64 {
        let total = self.alphabet().len() as f64;
        let n = self.length;
        if total == 0.0 || n == 0 || n > MAX_LENGTH {
            return 0.0;
        }
        // binomial[k][j] for k <= n, in f64 (C(128, 64) is about 2.4e37).
        let mut binomial = vec![vec![0.0f64; n + 1]; n + 1];
        for k in 0..=n {
            binomial[k][0] = 1.0;
            for j in 1..=k {
                binomial[k][j] =
                    binomial[k - 1][j - 1] + if j < k { binomial[k - 1][j] } else { 0.0 };
            }
        }
        let mut acc = vec![0.0f64; n + 1];
        acc[0] = 1.0;
        for class in self.classes() {
            let share = class.chars.len() as f64 / total;
            let own: Vec<f64> = (0..=n)
                .map(|j| {
                    if j >= class.min {
                        share.powi(j as i32)
                    } else {
                        0.0
                    }
                })
                .collect();
            acc = (0..=n)
                .map(|k| (0..=k).map(|j| binomial[k][j] * own[j] * acc[k - j]).sum())
                .collect();
        }
        acc[n].clamp(0.0, 1.0)
    }

    /// Bits of entropy of a generated password: `log2` of the number of passwords the policy
    /// allows, each equally likely. 0 for a policy that allows none.
    pub fn entropy_bits(&self) -> f64 {
        let p = self.acceptance();
        if p <= 0.0 {
            return 0.0;
        }
        self.length as f64 * (self.alphabet().len() as f64).log2() + p.log2()
    }

    /// Every reason this policy cannot be used (empty: it can).
    pub fn problems(&self) -> Vec<PolicyProblem> {
        let mut out = Vec::new();
        let problem = |field, message: String, help: &str| PolicyProblem {
            field,
            message,
            help: help.to_string(),
        };
        if self.length == 0 || self.length > MAX_LENGTH {
            out.push(problem(
                PolicyField::Length,
                format!("a password of {} characters is not possible", self.length),
                "use a length from 12 to 128; 16 or more is a good default",
            ));
            return out;
        }
        for c in self.symbols.chars() {
            if !c.is_ascii_punctuation() {
                out.push(problem(
                    PolicyField::Symbols,
                    format!("`{c}` is not an ASCII symbol"),
                    "symbols are ASCII punctuation such as `!#%*+-=?@_`; letters and digits have their own classes",
                ));
                return out;
            }
        }
        for class in self.classes() {
            if class.min > 0 && class.chars.is_empty() {
                let (field, help) = if class.field == PolicyField::MinSymbol {
                    (
                        PolicyField::Symbols,
                        "add symbols to `symbols`, or set `min_symbol: 0`",
                    )
                } else {
                    (class.field, "set this minimum to 0")
                };
                out.push(problem(
                    field,
                    format!(
                        "at least {} {} are required, but none are allowed",
                        class.min, class.name
                    ),
                    help,
                ));
            }
        }
        let sum: usize = self.classes().iter().map(|c| c.min).sum();
        if sum > self.length {
            out.push(problem(
                PolicyField::Length,
                format!(
                    "the minimums add up to {sum} characters but the password has only {}",
                    self.length
                ),
                "raise `length` or lower the minimums",
            ));
        }
        if !out.is_empty() {
            return out;
        }
        let p = self.acceptance();
        if p * MAX_DRAWS < 1.0 {
            out.push(problem(
                PolicyField::Length,
                format!(
                    "only about one random password in {:.0} meets these minimums",
                    1.0 / p.max(f64::MIN_POSITIVE)
                ),
                "raise `length` or lower the minimums",
            ));
            return out;
        }
        let bits = self.entropy_bits();
        if bits < MIN_ENTROPY_BITS {
            out.push(problem(
                PolicyField::Length,
                format!(
                    "this policy gives {bits:.1} bits of entropy, below the {MIN_ENTROPY_BITS:.0} required"
                ),
                &format!(
                    "raise `length` (each character adds about {:.1} bits)",
                    (self.alphabet().len() as f64).log2()
                ),
            ));
        }
        out
    }

    /// Generates a password from the OS random source.
    ///
    /// # Panics
    /// Only if the operating system's random source fails (see [`Self::try_generate`]); on
    /// Linux `getrandom(2)` does not fail once the system has booted.
    pub fn generate(&self) -> Secret {
        match self.try_generate() {
            Ok(secret) => secret,
            Err(e) => panic!("{e}: no password can be generated safely"),
        }
    }

    /// Generates a password from the OS random source, or says why it cannot.
    ///
    /// The policy must be one that [`Self::problems`] accepts (every loaded playbook's is);
    /// for another, this keeps drawing until one in [`MAX_DRAWS`]-ish odds comes up.
    pub fn try_generate(&self) -> Result<Secret, RandomError> {
        let alphabet = self.alphabet();
        if alphabet.is_empty() || self.length == 0 || self.acceptance() == 0.0 {
            return Err(RandomError("the password policy allows no password".into()));
        }
        let classes = self.classes();
        let mut rng = ByteSource::new();
        let mut candidate = vec![0u8; self.length];
        let result = loop {
            for slot in candidate.iter_mut() {
                *slot = alphabet[rng.below(alphabet.len())?];
            }
            let meets = classes.iter().all(|class| {
                candidate.iter().filter(|c| class.chars.contains(c)).count() >= class.min
            });
            if meets {
                // The alphabet is ASCII, so this is valid UTF-8.
                break Secret::new(String::from_utf8_lossy(&candidate).into_owned());
            }
        };
        candidate.fill(0);
        std::hint::black_box(&candidate);
        Ok(result)
    }
}

/// Random bytes from the OS, fetched in blocks; drawn-from bytes are wiped.
pub(crate) struct ByteSource {
    buffer: [u8; 256],
    used: usize,
}

impl ByteSource {
    pub(crate) fn new() -> Self {
        ByteSource {
            buffer: [0; 256],
            used: 256,
        }
    }

    fn byte(&mut self) -> Result<u8, RandomError> {
        if self.used == self.buffer.len() {
            rand::rngs::OsRng
                .try_fill_bytes(&mut self.buffer)
                .map_err(|e| RandomError(e.to_string()))?;
            self.used = 0;
        }
        let b = self.buffer[self.used];
        self.buffer[self.used] = 0;
        self.used += 1;
        Ok(b)
    }

    /// A uniform number below `n` (1 to 256), by rejecting the bytes that would bias it.
    pub(crate) fn below(&mut self, n: usize) -> Result<usize, RandomError> {
        let n = n.clamp(1, 256);
        let limit = 256 - 256 % n;
        loop {
            let b = usize::from(self.byte()?);
            if b < limit {
                return Ok(b % n);
            }
        }
    }
}

impl Drop for ByteSource {
    fn drop(&mut self) {
        self.buffer.fill(0);
        std::hint::black_box(&self.buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(
        length: usize,
        mins: [usize; 4],
        symbols: &str,
        exclude_ambiguous: bool,
    ) -> PasswordPolicy {
        PasswordPolicy {
            length,
            min_upper: mins[0],
            min_lower: mins[1],
            min_digit: mins[2],
            min_symbol: mins[3],
            symbols: symbols.into(),
            exclude_ambiguous,
        }
    }

    fn brute_force_count(p: &PasswordPolicy) -> f64 {
        // Enumerate every string over the alphabet: only for tiny policies.
        let alphabet = p.alphabet();
        let classes = p.classes();
        let mut count = 0u64;
        let mut idx = vec![0usize; p.length];
        loop {
            let ok = classes.iter().all(|c| {
                idx.iter()
                    .filter(|&&i| c.chars.contains(&alphabet[i]))
                    .count()
                    >= c.min
            });
            count += u64::from(ok);
            let mut k = 0;
            loop {
                if k == idx.len() {
                    return count as f64;
                }
                idx[k] += 1;
                if idx[k] < alphabet.len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }

    #[test]
    fn entropy_is_log2_of_the_exact_count() {
        // A tiny alphabet so brute force is possible: upper and lower excluded by minimum 0?
        // They are always in the alphabet, so use a short length instead.
        let p = policy(3, [1, 1, 1, 0], "", true);
        let exact = brute_force_count(&p).log2();
        assert!(
            (p.entropy_bits() - exact).abs() < 1e-9,
            "{} vs {exact}",
            p.entropy_bits()
        );
        let q = policy(2, [0, 0, 1, 1], "#@", false);
        let exact = brute_force_count(&q).log2();
        assert!(
            (q.entropy_bits() - exact).abs() < 1e-9,
            "{} vs {exact}",
            q.entropy_bits()
        );
    }

    #[test]
    fn default_policy_is_strong_enough() {
        let p = PasswordPolicy::default();
        assert!(p.problems().is_empty(), "{:?}", p.problems());
        let bits = p.entropy_bits();
        // 67 characters, 16 of them: 16 * log2(67) = 97.06, minus the minimums' cost.
        assert!(bits > 96.0 && bits < 97.1, "{bits}");
    }

    #[test]
    fn impossible_policies_are_refused_with_the_reason() {
        let sum = policy(8, [3, 3, 3, 3], "!", false).problems();
        assert!(sum[0].message.contains("add up to 12"), "{sum:?}");
        let empty = policy(20, [1, 1, 1, 2], "", false).problems();
        assert_eq!(empty[0].field, PolicyField::Symbols);
        let only_ambiguous = policy(20, [1, 1, 1, 1], "|", true).problems();
        assert_eq!(only_ambiguous[0].field, PolicyField::Symbols);
        let weak = policy(10, [1, 1, 1, 1], "!", false).problems();
        assert!(weak[0].message.contains("bits of entropy"), "{weak:?}");
        assert!(weak[0].message.contains("56.7 bits"), "{weak:?}");
        let not_symbol = policy(20, [1, 1, 1, 1], "!a", false).problems();
        assert!(not_symbol[0].message.contains("`a`"));
        let skewed = policy(20, [0, 0, 0, 18], "!", false).problems();
        assert!(
            skewed[0].message.contains("one random password in"),
            "{skewed:?}"
        );
        assert!(!policy(0, [0; 4], "", false).problems().is_empty());
        assert!(!policy(129, [0; 4], "", false).problems().is_empty());
    }

    #[test]
    fn generated_passwords_are_not_repeated() {
        let p = PasswordPolicy::default();
        let a = p.generate();
        let b = p.generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 16);
    }

    #[test]
    fn every_character_appears_over_many_draws() {
        let p = PasswordPolicy::default();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.extend(p.generate().expose().bytes());
        }
        assert_eq!(seen.len(), p.alphabet().len());
        assert!(seen.iter().all(|c| !AMBIGUOUS.as_bytes().contains(c)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn every_generated_password_satisfies_its_policy(
            length in 12usize..64,
            mins in proptest::array::uniform4(0usize..4),
            symbols in "[!#%*+=?@_|-]{0,10}",
            exclude_ambiguous in any::<bool>(),
        ) {
            let p = policy(length, mins, &symbols, exclude_ambiguous);
            // Entropy is not the point here: any policy the generator can meet is tested.
            prop_assume!(p.problems().iter().all(|q| q.message.contains("bits of entropy")));
            let secret = p.try_generate().unwrap();
            let s = secret.expose();
            prop_assert_eq!(s.chars().count(), length);
            prop_assert!(s.chars().filter(char::is_ascii_uppercase).count() >= mins[0]);
            prop_assert!(s.chars().filter(char::is_ascii_lowercase).count() >= mins[1]);
            prop_assert!(s.chars().filter(char::is_ascii_digit).count() >= mins[2]);
            prop_assert!(s.chars().filter(|c| symbols.contains(*c)).count() >= mins[3]);
            prop_assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || symbols.contains(c)));
            if exclude_ambiguous {
                prop_assert!(s.chars().all(|c| !AMBIGUOUS.contains(c)));
            }
        }
    }
}
