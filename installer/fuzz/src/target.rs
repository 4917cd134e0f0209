//! What a fuzz target is: the interface the runner drives and the
//! targets implement (apart from both, so neither depends on the other).

use crate::rng::Rng;

/// How one case ended, when it did not panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The input was taken (parsed, probed, installed...).
    Accepted,
    /// The input was refused with an error, as it should be for bad input.
    Refused,
}

/// One fuzz target: makes inputs and runs them.
pub trait Target {
    fn name(&self) -> &'static str;
    /// How saved inputs are named (`toml`, `json`).
    fn extension(&self) -> &'static str;
    /// One input, from the seeded generator.
    fn generate(&mut self, rng: &mut Rng) -> Vec<u8>;
    /// Run one input. Panics are the findings; a property that fails
    /// without a panic panics too, with what was wrong.
    fn run(&mut self, input: &[u8]) -> Outcome;
}
